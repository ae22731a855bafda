// Conv2d + BatchNorm fusion for inference, as torch.nn.utils.fusion.fuse_conv_bn_eval.
//
//   model->eval();
//   auto fast = nn::utils::fuse_conv_bn_eval(*model);  // Conv2d, BatchNorm2d pairs become one Conv2d
//   Tensor y = (*fast)(x);                             // the same outputs up to float rounding
#pragma once

#include <memory>

#include "actlab/nn/layers.h"
#include "actlab/nn/sequential.h"

namespace actlab::nn::utils {

// A new Conv2d computing bn(conv(x)) with bn's running statistics: weight * gamma / sqrt(var + eps) per
// output channel, bias (b - mean) * gamma / sqrt(var + eps) + beta (b = 0 without a conv bias; gamma = 1 and
// beta = 0 without affine parameters), computed in double and rounded once. Both modules must be in eval
// mode (PyTorch's "Fusion only for eval!"), bn must track running statistics and have conv's output channels.
// The new module's tensors do not require grad, and making it draws nothing from the global generator.
std::shared_ptr<Conv2d> fuse_conv_bn_eval(Conv2d& conv, BatchNormBase& bn);

// A Sequential for inference holding model's children in order, except that every Conv2d directly followed
// by a BatchNorm2d, both in eval mode, bn with running statistics, neither with hooks (their own or global),
// is replaced by one fused Conv2d. The other children are shared with model, not copied. With nothing to
// fuse, it is a plain copy of the child list. The model must be in eval mode.
std::shared_ptr<Sequential> fuse_conv_bn_eval(Sequential& model);

}  // namespace actlab::nn::utils
