#include "actlab/nn/fusion.h"

#include <cmath>
#include <vector>

#include "actlab/autograd/grad_mode.h"
#include "actlab/ops/ops.h"

namespace actlab::nn::utils {

std::shared_ptr<Conv2d> fuse_conv_bn_eval(Conv2d& conv, BatchNormBase& bn) {
  if (conv.is_training() || bn.is_training()) throw ValueError("Fusion only for eval!");
  if (!bn.running_mean().defined() || !bn.running_var().defined())
    throw ValueError("fuse_conv_bn_eval needs a BatchNorm that tracks running statistics (track_running_stats=True)");
  const int64_t O = conv.out_channels();
  if (bn.running_mean().numel() != O)
    throw ValueError(detail::concat("fuse_conv_bn_eval: the BatchNorm has ", bn.running_mean().numel(),
                                    " features but the Conv2d has ", O, " output channels"));
  // Build the new module without moving the global generator (Conv2d's constructor draws its initial weights).
  const Generator::State state = default_generator().get_state();
  Conv2dOptions opt = conv.options();
  opt.bias = true;
  auto fused = std::make_shared<Conv2d>(conv.in_channels(), O, conv.kernel_size(), opt);
  default_generator().set_state(state);

  const std::vector<double> w = conv.weight().to_vector();
  const std::vector<double> b = conv.bias().defined() ? conv.bias().to_vector() : std::vector<double>(O, 0.0);
  const std::vector<double> mean = bn.running_mean().to_vector(), var = bn.running_var().to_vector();
  const std::vector<double> gamma = bn.weight().defined() ? bn.weight().to_vector() : std::vector<double>(O, 1.0);
  const std::vector<double> beta = bn.bias().defined() ? bn.bias().to_vector() : std::vector<double>(O, 0.0);
  const double eps = bn.options().eps;
  const int64_t per_channel = O > 0 ? static_cast<int64_t>(w.size()) / O : 0;
  std::vector<double> fw(w.size()), fb(O);
  for (int64_t o = 0; o < O; ++o) {
    const double scale = gamma[o] / std::sqrt(var[o] + eps);
    for (int64_t k = 0; k < per_channel; ++k) fw[o * per_channel + k] = w[o * per_channel + k] * scale;
    fb[o] = (b[o] - mean[o]) * scale + beta[o];
  }
  NoGradGuard ng;
  const Dtype dt = conv.weight().dtype();
  fused->weight().copy_(from_data(fw, conv.weight().sizes(), {dt}));
  fused->bias().copy_(from_data(fb, {O}, {dt}));
  fused->weight().requires_grad_(false);
  fused->bias().requires_grad_(false);
  fused->eval();
  return fused;
}

std::shared_ptr<Sequential> fuse_conv_bn_eval(Sequential& model) {
  if (model.is_training()) throw ValueError("Fusion only for eval!");
  auto out = std::make_shared<Sequential>();
  const int64_t n = model.size();
  for (int64_t i = 0; i < n; ++i) {
    std::shared_ptr<Module> m = model.ptr(i);
    if (i + 1 < n) {
      auto* conv = dynamic_cast<Conv2d*>(m.get());
      auto* bn = dynamic_cast<BatchNorm2d*>(model.ptr(i + 1).get());
      if (conv && bn && !conv->is_training() && !bn->is_training() && bn->running_mean().defined() &&
          bn->running_var().defined() && !conv->has_hooks() && !bn->has_hooks()) {
        out->push_back(fuse_conv_bn_eval(*conv, *bn));
        ++i;
        continue;
      }
    }
    out->push_back(m);
  }
  out->eval();
  return out;
}

}  // namespace actlab::nn::utils
