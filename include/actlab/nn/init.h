// torch.nn.init: in-place initializers. Each runs under NoGradGuard, fills `t` in place and returns it;
// random ones draw from `gen`, or from the default generator when it is null.
#pragma once

#include <optional>
#include <string>

#include "actlab/core/tensor.h"

namespace actlab::nn::init {

// The recommended gain for a nonlinearity: 1 for linear, conv1d/2d/3d, conv_transpose1d/2d/3d and sigmoid;
// 5/3 for tanh; sqrt(2) for relu; sqrt(2 / (1 + slope^2)) for leaky_relu (param = slope, default 0.01);
// 3/4 for selu. Anything else: ValueError "Unsupported nonlinearity foo".
double calculate_gain(const std::string& nonlinearity, std::optional<double> param = std::nullopt);

// (fan_in, fan_out) = (size(1) * receptive field, size(0) * receptive field); receptive field is the
// product of the sizes from dim 2 on. Fewer than 2 dims: ValueError.
std::pair<int64_t, int64_t> calculate_fan_in_and_fan_out(const Tensor& t);

Tensor& uniform_(Tensor& t, double a = 0.0, double b = 1.0, Generator* gen = nullptr);
Tensor& normal_(Tensor& t, double mean = 0.0, double std = 1.0, Generator* gen = nullptr);
Tensor& constant_(Tensor& t, double value);
Tensor& zeros_(Tensor& t);
Tensor& ones_(Tensor& t);

// U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)).
Tensor& xavier_uniform_(Tensor& t, double gain = 1.0, Generator* gen = nullptr);
// N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out)).
Tensor& xavier_normal_(Tensor& t, double gain = 1.0, Generator* gen = nullptr);
// U(-bound, bound) with bound = gain(nonlinearity, a) * sqrt(3 / fan); mode "fan_in" or "fan_out".
Tensor& kaiming_uniform_(Tensor& t, double a = 0.0, const std::string& mode = "fan_in",
                         const std::string& nonlinearity = "leaky_relu", Generator* gen = nullptr);
// N(0, std^2) with std = gain(nonlinearity, a) / sqrt(fan).
Tensor& kaiming_normal_(Tensor& t, double a = 0.0, const std::string& mode = "fan_in",
                        const std::string& nonlinearity = "leaky_relu", Generator* gen = nullptr);

}  // namespace actlab::nn::init
