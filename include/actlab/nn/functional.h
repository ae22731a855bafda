// torch.nn.functional's activations: each as a function with PyTorch's parameter names and defaults, and
// its in-place twin (name_). In-place variants modify their argument and return it, as in PyTorch.
#pragma once

#include <optional>
#include <string>

#include "actlab/core/tensor.h"
#include "actlab/kernels/activation_table.h"

namespace actlab::nn::functional {

// Any pointwise row of the activation table with its parameter values (in the row's order).
Tensor pointwise_activation(kernels::ActId id, const kernels::ParamValues& params, const Tensor& x, bool inplace = false);

Tensor relu(const Tensor& x, bool inplace = false);
Tensor& relu_(Tensor& x);
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01, bool inplace = false);
Tensor& leaky_relu_(Tensor& x, double negative_slope = 0.01);
Tensor sigmoid(const Tensor& x);
Tensor& sigmoid_(Tensor& x);
Tensor tanh(const Tensor& x);
Tensor& tanh_(Tensor& x);
Tensor elu(const Tensor& x, double alpha = 1.0, bool inplace = false);
Tensor& elu_(Tensor& x, double alpha = 1.0);
Tensor selu(const Tensor& x, bool inplace = false);
Tensor& selu_(Tensor& x);
Tensor celu(const Tensor& x, double alpha = 1.0, bool inplace = false);
Tensor& celu_(Tensor& x, double alpha = 1.0);
Tensor gelu(const Tensor& x, const std::string& approximate = "none");
Tensor silu(const Tensor& x, bool inplace = false);
Tensor mish(const Tensor& x, bool inplace = false);
Tensor softplus(const Tensor& x, double beta = 1.0, double threshold = 20.0);
Tensor softsign(const Tensor& x);
Tensor softshrink(const Tensor& x, double lambd = 0.5);
Tensor hardshrink(const Tensor& x, double lambd = 0.5);
Tensor tanhshrink(const Tensor& x);
Tensor hardtanh(const Tensor& x, double min_val = -1.0, double max_val = 1.0, bool inplace = false);
Tensor& hardtanh_(Tensor& x, double min_val = -1.0, double max_val = 1.0);
Tensor relu6(const Tensor& x, bool inplace = false);
Tensor hardsigmoid(const Tensor& x, bool inplace = false);
Tensor hardswish(const Tensor& x, bool inplace = false);
Tensor logsigmoid(const Tensor& x);
Tensor threshold(const Tensor& x, double threshold, double value, bool inplace = false);
Tensor& threshold_(Tensor& x, double threshold, double value);

// dim = nullopt picks PyTorch's legacy implicit dim (0 for 0-, 1- and 3-d input, else 1).
Tensor softmax(const Tensor& x, std::optional<int64_t> dim);
Tensor log_softmax(const Tensor& x, std::optional<int64_t> dim);
Tensor softmin(const Tensor& x, std::optional<int64_t> dim);
Tensor softmax2d(const Tensor& x);  // softmax over the channel dim (-3) of 3-d or 4-d input
Tensor glu(const Tensor& x, int64_t dim = -1);
Tensor prelu(const Tensor& x, const Tensor& weight);
// training: slopes drawn from U(lower, upper) per negative element; eval: (lower + upper) / 2.
Tensor rrelu(const Tensor& x, double lower = 1.0 / 8.0, double upper = 1.0 / 3.0, bool training = false,
             bool inplace = false);
Tensor& rrelu_(Tensor& x, double lower = 1.0 / 8.0, double upper = 1.0 / 3.0, bool training = false);

}  // namespace actlab::nn::functional
