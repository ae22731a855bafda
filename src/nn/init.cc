#include "actlab/nn/init.h"

#include <cmath>

#include "actlab/autograd/grad_mode.h"
#include "actlab/nn/module.h"
#include "actlab/ops/ops.h"

namespace actlab::nn::init {

double calculate_gain(const std::string& nl, std::optional<double> param) {
  static const char* linear_fns[] = {"linear", "conv1d", "conv2d", "conv3d",
                                     "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"};
  for (const char* f : linear_fns)
    if (nl == f) return 1.0;
  if (nl == "sigmoid") return 1.0;
  if (nl == "tanh") return 5.0 / 3.0;
  if (nl == "relu") return std::sqrt(2.0);
  if (nl == "leaky_relu") {
    double slope = param.value_or(0.01);
    if (!std::isfinite(slope) && !std::isinf(slope))
      throw ValueError("negative_slope " + format_float(slope) + " not a valid number");
    return std::sqrt(2.0 / (1.0 + slope * slope));
  }
  if (nl == "selu") return 3.0 / 4.0;
  throw ValueError("Unsupported nonlinearity " + nl +
                   " (valid: linear, conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, "
                   "conv_transpose3d, sigmoid, tanh, relu, leaky_relu, selu)");
}

std::pair<int64_t, int64_t> calculate_fan_in_and_fan_out(const Tensor& t) {
  if (!t.defined() || t.dim() < 2)
    throw ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions");
  int64_t receptive = 1;
  for (int64_t d = 2; d < t.dim(); ++d) receptive *= t.size(d);
  return {t.size(1) * receptive, t.size(0) * receptive};
}

namespace {

void check_float(const Tensor& t, const char* fn) {
  if (!t.defined() || !t.is_floating_point())
    throw ValueError(std::string(fn) + ": expected a defined floating-point tensor");
}

int64_t correct_fan(const Tensor& t, const std::string& mode) {
  if (mode != "fan_in" && mode != "fan_out")
    throw ValueError("Mode " + mode + " not supported, please use one of fan_in, fan_out");
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t);
  return mode == "fan_in" ? fan_in : fan_out;
}

}  // namespace

Tensor& uniform_(Tensor& t, double a, double b, Generator* gen) {
  check_float(t, "uniform_");
  NoGradGuard ng;
  Tensor r = rand(t.sizes(), {t.dtype()}, gen);
  t.copy_(r * (b - a) + a);
  return t;
}

Tensor& normal_(Tensor& t, double mean, double std, Generator* gen) {
  check_float(t, "normal_");
  if (std < 0) throw ValueError("normal expects std >= 0.0, but found std " + format_float(std));
  NoGradGuard ng;
  Tensor r = randn(t.sizes(), {t.dtype()}, gen);
  t.copy_(r * std + mean);
  return t;
}

Tensor& constant_(Tensor& t, double value) {
  if (!t.defined()) throw ValueError("constant_: expected a defined tensor");
  NoGradGuard ng;
  t.fill_(value);
  return t;
}
Tensor& zeros_(Tensor& t) { return constant_(t, 0.0); }
Tensor& ones_(Tensor& t) { return constant_(t, 1.0); }

Tensor& xavier_uniform_(Tensor& t, double gain, Generator* gen) {
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t);
  double std = gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out));
  double a = std::sqrt(3.0) * std;
  return uniform_(t, -a, a, gen);
}

Tensor& xavier_normal_(Tensor& t, double gain, Generator* gen) {
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t);
  double std = gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out));
  return normal_(t, 0.0, std, gen);
}

Tensor& kaiming_uniform_(Tensor& t, double a, const std::string& mode, const std::string& nonlinearity,
                         Generator* gen) {
  check_float(t, "kaiming_uniform_");
  if (t.numel() == 0) return t;  // PyTorch: "Initializing zero-element tensors is a no-op"
  int64_t fan = correct_fan(t, mode);
  double gain = calculate_gain(nonlinearity, a);
  double std = gain / std::sqrt(static_cast<double>(fan));
  double bound = std::sqrt(3.0) * std;
  return uniform_(t, -bound, bound, gen);
}

Tensor& kaiming_normal_(Tensor& t, double a, const std::string& mode, const std::string& nonlinearity,
                        Generator* gen) {
  check_float(t, "kaiming_normal_");
  if (t.numel() == 0) return t;
  int64_t fan = correct_fan(t, mode);
  double gain = calculate_gain(nonlinearity, a);
  double std = gain / std::sqrt(static_cast<double>(fan));
  return normal_(t, 0.0, std, gen);
}

}  // namespace actlab::nn::init
