// nn::Linear, nn::Flatten, nn::Dropout.
#include <cmath>

#include "actlab/nn/layers.h"

namespace actlab::nn {
namespace detail_layers {
void fill_uniform(Tensor& t, double bound);  // conv.cc
}

Linear::Linear(int64_t in_features, int64_t out_features, bool bias) : in_(in_features), out_(out_features) {
  if (in_ < 0 || out_ < 0)
    throw ValueError(detail::concat("Linear: in_features and out_features must be non-negative, got ", in_, " and ",
                                    out_));
  weight_ = register_parameter("weight", empty({out_, in_}));
  if (bias) bias_ = register_parameter("bias", empty({out_}));
  else register_parameter("bias", Tensor(), false);
  reset_parameters();
}

void Linear::reset_parameters() {
  // kaiming_uniform_(a=sqrt(5)) gives U(-1/sqrt(fan_in), 1/sqrt(fan_in)); the bias uses the same bound.
  const double bound = in_ > 0 ? 1.0 / std::sqrt(static_cast<double>(in_)) : 0.0;
  if (weight_.numel() > 0) detail_layers::fill_uniform(weight_, bound);
  if (bias_.defined() && bias_.numel() > 0) detail_layers::fill_uniform(bias_, bound);
}

Tensor Linear::forward(const Tensor& input) { return functional::linear(input, weight_, bias_); }

std::string Linear::extra_repr() const {
  return detail::concat("in_features=", in_, ", out_features=", out_, ", bias=", bias_.defined() ? "True" : "False");
}

Tensor Flatten::forward(const Tensor& input) { return input.flatten(start_, end_); }

std::string Flatten::extra_repr() const { return detail::concat("start_dim=", start_, ", end_dim=", end_); }

Dropout::Dropout(double p, bool inplace) : p_(p), inplace_(inplace) {
  if (!(p >= 0.0 && p <= 1.0))
    throw ValueError(detail::concat("dropout probability has to be between 0 and 1, but got ", format_float(p)));
}

Tensor Dropout::forward(const Tensor& input) { return functional::dropout(input, p_, is_training(), inplace_); }

std::string Dropout::extra_repr() const {
  return detail::concat("p=", format_float(p_), ", inplace=", inplace_ ? "True" : "False");
}

}  // namespace actlab::nn
