#include "actlab/nn/sequential.h"

#include <string>
#include <typeinfo>

#include "actlab/nn/activation.h"
#include "actlab/nn/layers.h"

namespace actlab::nn {

Sequential::Sequential(std::vector<std::shared_ptr<Module>> modules) {
  for (auto& m : modules) push_back(std::move(m));
}

void Sequential::push_back(std::shared_ptr<Module> module) {
  if (!module) throw ValueError("Sequential: cannot add a null module");
  register_module(std::to_string(named_children().size()), std::move(module));
}

std::shared_ptr<Module> Sequential::ptr(int64_t i) const {
  const int64_t n = size();
  if (i < -n || i >= n) throw IndexError(detail::concat("index ", i, " is out of range"));
  if (i < 0) i += n;
  return named_children()[static_cast<size_t>(i)].second;
}

Module& Sequential::operator[](int64_t i) const { return *ptr(i); }

namespace {

// A ReLU module (nn::ReLU, or the table-driven Activation with ReLU's row); exact types, as below, because a
// subclass may override forward.
bool is_relu(Module& m) {
  const std::type_info& u = typeid(m);
  return (u == typeid(ReLU) || u == typeid(Activation)) && static_cast<Activation&>(m).spec().id == kernels::ActId::ReLU;
}

// A BatchNorm1d/2d followed by a ReLU, neither with hooks: the pair runs as one pass (BatchNormBase::forward_relu).
// Nothing outside the pair can see the normalized values in between; the only difference is the autograd node the
// output carries (BatchNormReluBackward0 where PyTorch has ReluBackward0).
BatchNormBase* fusable_bn_relu(Module& first, Module& second) {
  const std::type_info& t = typeid(first);
  if ((t != typeid(BatchNorm2d) && t != typeid(BatchNorm1d)) || !is_relu(second)) return nullptr;
  if (first.has_hooks() || second.has_hooks()) return nullptr;
  return static_cast<BatchNormBase*>(&first);
}

// A ReLU (not in place: in place it would change the tensor it was given, which a caller may hold) followed by an
// AdaptiveAvgPool2d (exactly), neither with hooks: AdaptiveAvgPool2d::forward_after_relu. The output's autograd
// node is ReluAdaptiveAvgPool2DBackward0 where PyTorch has AdaptiveAvgPool2DBackward0.
AdaptiveAvgPool2d* fusable_relu_pool(Module& first, Module& second) {
  if (!is_relu(first) || static_cast<Activation&>(first).spec().inplace()) return nullptr;
  if (typeid(second) != typeid(AdaptiveAvgPool2d) || first.has_hooks() || second.has_hooks()) return nullptr;
  return static_cast<AdaptiveAvgPool2d*>(&second);
}

}  // namespace

Tensor Sequential::forward(const Tensor& input) {
  Tensor x = input;
  const auto& children = named_children();
  for (size_t i = 0; i < children.size(); ++i) {
    Module& m = *children[i].second;
    if (i + 1 < children.size()) {
      Module& next = *children[i + 1].second;
      if (BatchNormBase* bn = fusable_bn_relu(m, next)) {
        x = bn->forward_relu(x);
        ++i;
        continue;
      }
      if (AdaptiveAvgPool2d* pool = fusable_relu_pool(m, next)) {
        x = pool->forward_after_relu(x);
        ++i;
        continue;
      }
    }
    x = m(x);
  }
  return x;
}

}  // namespace actlab::nn
