#include "actlab/nn/sequential.h"

#include <string>

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

Tensor Sequential::forward(const Tensor& input) {
  Tensor x = input;
  for (const auto& [name, m] : named_children()) x = (*m)(x);
  return x;
}

}  // namespace actlab::nn
