// nn::MaxPool2d, nn::AvgPool2d, nn::AdaptiveAvgPool2d: thin modules over functional_layers.h, printed as
// PyTorch prints them (sizes as given: "kernel_size=2" or "kernel_size=(2, 3)").
#include "actlab/nn/layers.h"

namespace actlab::nn {

MaxPool2d::MaxPool2d(Size2 kernel_size, MaxPool2dOptions options) : kernel_(kernel_size), opt_(options) {}

Tensor MaxPool2d::forward(const Tensor& input) {
  return functional::max_pool2d(input, kernel_, opt_.stride, opt_.padding, opt_.dilation, opt_.ceil_mode);
}

std::string MaxPool2d::extra_repr() const {
  Size2 st = opt_.stride ? *opt_.stride : kernel_;
  return "kernel_size=" + kernel_.to_string() + ", stride=" + st.to_string() + ", padding=" + opt_.padding.to_string() +
         ", dilation=" + opt_.dilation.to_string() + ", ceil_mode=" + (opt_.ceil_mode ? "True" : "False");
}

AvgPool2d::AvgPool2d(Size2 kernel_size, AvgPool2dOptions options) : kernel_(kernel_size), opt_(options) {}

Tensor AvgPool2d::forward(const Tensor& input) {
  return functional::avg_pool2d(input, kernel_, opt_.stride, opt_.padding, opt_.ceil_mode, opt_.count_include_pad,
                                opt_.divisor_override);
}

std::string AvgPool2d::extra_repr() const {
  Size2 st = opt_.stride ? *opt_.stride : kernel_;
  return "kernel_size=" + kernel_.to_string() + ", stride=" + st.to_string() + ", padding=" + opt_.padding.to_string();
}

AdaptiveAvgPool2d::AdaptiveAvgPool2d(Size2 output_size)
    : h_(output_size.h), w_(output_size.w), scalar_(output_size.scalar) {}

AdaptiveAvgPool2d::AdaptiveAvgPool2d(std::optional<int64_t> out_h, std::optional<int64_t> out_w, int)
    : h_(out_h), w_(out_w), scalar_(false) {}

Tensor AdaptiveAvgPool2d::forward(const Tensor& input) { return functional::adaptive_avg_pool2d(input, h_, w_); }

Tensor AdaptiveAvgPool2d::forward_after_relu(const Tensor& input) {
  return functional::relu_adaptive_avg_pool2d(input, h_, w_);
}

std::string AdaptiveAvgPool2d::extra_repr() const {
  auto s = [](const std::optional<int64_t>& v) { return v ? std::to_string(*v) : std::string("None"); };
  if (scalar_) return "output_size=" + s(h_);
  return "output_size=(" + s(h_) + ", " + s(w_) + ")";
}

}  // namespace actlab::nn
