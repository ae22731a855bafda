// torch.nn.functional's compute layers: conv2d, pooling, batch_norm, linear, dropout. Each is differentiable
// (its backward is recorded when an input requires grad) and takes PyTorch's arguments and defaults.
//
// Speed: float32 conv2d runs im2col + oneDNN sgemm per image, the images spread over the OpenMP threads
// (each GEMM single-threaded, its column buffer hot in cache); pooling and batch-norm loops run over
// (image, channel) planes on the OpenMP threads. float64 runs the same code (used for gradient checks).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "actlab/core/tensor.h"

namespace actlab::dist {
class ProcessGroup;
}

namespace actlab::nn {

// A 2-D size argument that accepts an int or a pair, as PyTorch's `_pair`: Size2(3) is (3, 3),
// Size2{3, 5} is (3, 5). `scalar` remembers that one int was given (modules print it as given:
// MaxPool2d(kernel_size=2) vs MaxPool2d(kernel_size=(2, 2))).
struct Size2 {
  int64_t h = 0, w = 0;
  bool scalar = true;
  Size2(int64_t v) : h(v), w(v), scalar(true) {}  // NOLINT: implicit by design
  Size2(int v) : Size2(static_cast<int64_t>(v)) {}  // NOLINT
  Size2(int64_t a, int64_t b) : h(a), w(b), scalar(false) {}
  bool operator==(const Size2& o) const { return h == o.h && w == o.w; }
  // "2" when scalar, else "(2, 3)".
  std::string to_string() const;
  // Always the tuple "(2, 3)" (Conv2d prints this way).
  std::string tuple_string() const;
};

// Conv2d's padding: an int, a pair, or the strings "same" / "valid".
struct Conv2dPadding {
  Size2 size = 0;
  std::string mode;  // "" (explicit size), "same" or "valid"
  Conv2dPadding(int v) : size(v) {}                          // NOLINT: implicit by design
  Conv2dPadding(int64_t v) : size(v) {}                      // NOLINT
  Conv2dPadding(int64_t h, int64_t w) : size(h, w) {}
  Conv2dPadding(Size2 s) : size(s) {}                        // NOLINT
  Conv2dPadding(const char* s) : mode(s) {}                  // NOLINT
  Conv2dPadding(std::string s) : mode(std::move(s)) {}       // NOLINT
};

namespace functional {

// ---- convolution ---------------------------------------------------------------------------------------
// F.conv2d. input [N, C, H, W] or unbatched [C, H, W]; weight [O, C/groups, kH, kW]; bias [O] or undefined.
// padding "same" pads so the output has the input's size (stride must be 1; odd total padding puts the
// extra row/column at the bottom/right, as PyTorch); "valid" is no padding.
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor(), Size2 stride = 1,
              Conv2dPadding padding = 0, Size2 dilation = 1, int64_t groups = 1);

// ---- pooling ---------------------------------------------------------------------------------------------
// F.max_pool2d: stride nullopt = kernel_size. Backward sends each gradient to the window's maximum (the
// first one on ties; a NaN is the maximum, the last NaN when several).
Tensor max_pool2d(const Tensor& input, Size2 kernel_size, std::optional<Size2> stride = std::nullopt,
                  Size2 padding = 0, Size2 dilation = 1, bool ceil_mode = false);
// The same, also returning the flat (h * W + w) index of each maximum within its plane, as int64.
struct PoolWithIndices {
  Tensor output;
  Tensor indices;
};
PoolWithIndices max_pool2d_with_indices(const Tensor& input, Size2 kernel_size,
                                        std::optional<Size2> stride = std::nullopt, Size2 padding = 0,
                                        Size2 dilation = 1, bool ceil_mode = false);
// F.avg_pool2d. count_include_pad: padded zeros count in the divisor; divisor_override replaces it.
Tensor avg_pool2d(const Tensor& input, Size2 kernel_size, std::optional<Size2> stride = std::nullopt,
                  Size2 padding = 0, bool ceil_mode = false, bool count_include_pad = true,
                  std::optional<int64_t> divisor_override = std::nullopt);
// F.adaptive_avg_pool2d. Output cell i averages input rows floor(i*H/oh) .. ceil((i+1)*H/oh) - 1 (likewise
// for columns). A nullopt size keeps the input's size in that dimension.
Tensor adaptive_avg_pool2d(const Tensor& input, std::optional<int64_t> out_h, std::optional<int64_t> out_w);
inline Tensor adaptive_avg_pool2d(const Tensor& input, Size2 output_size) {
  return adaptive_avg_pool2d(input, output_size.h, output_size.w);
}
// adaptive_avg_pool2d(relu(input), ...) in one pass and one autograd node (ReluAdaptiveAvgPool2DBackward0), with
// the same values and gradients as the two ops: relu(input) is never written, and backward applies ReLU's mask
// from the saved input. nn::Sequential runs a ReLU (not in place) followed by an AdaptiveAvgPool2d this way when
// neither has hooks (an actlab extension; PyTorch has no such op).
Tensor relu_adaptive_avg_pool2d(const Tensor& input, std::optional<int64_t> out_h, std::optional<int64_t> out_w);

// ---- normalization ---------------------------------------------------------------------------------------
// F.batch_norm over dim 1 of input [N, C, *]. training (or undefined running stats): normalize with the
// batch mean and biased variance, and update running_mean/running_var in place (if defined) with
// `momentum` and the unbiased variance; eval: normalize with the running stats. weight/bias may be
// undefined. Gradients flow to input, weight and bias (never to the running stats).
// sync (training only): the statistics are those of every rank's batch together, as torch.nn.SyncBatchNorm: the
// per-channel sums, centered sums of squares and counts are all-reduced in forward, the per-channel sums of the
// output gradient and of its product with the centered input in backward; the weight and bias gradients stay
// this rank's (data parallelism averages them).
Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight = Tensor(), const Tensor& bias = Tensor(), bool training = false,
                  double momentum = 0.1, double eps = 1e-5, dist::ProcessGroup* sync = nullptr);
// relu(batch_norm(...)) in one pass and one autograd node (BatchNormReluBackward0), with the same values and
// gradients as the two ops: the ReLU's mask is recomputed from the input in backward instead of reading a saved
// output. nn::Sequential runs a BatchNorm followed by a ReLU this way when neither has hooks (an actlab extension;
// PyTorch has no such op).
Tensor batch_norm_relu(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                       const Tensor& weight = Tensor(), const Tensor& bias = Tensor(), bool training = false,
                       double momentum = 0.1, double eps = 1e-5, dist::ProcessGroup* sync = nullptr);

// ---- linear ------------------------------------------------------------------------------------------------
// F.linear: input [*, in] x weight [out, in]^T + bias [out].
Tensor linear(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor());

// ---- dropout -----------------------------------------------------------------------------------------------
// F.dropout: in training, zero each element with probability p (drawn from `gen`, default: the global
// generator) and scale the rest by 1/(1-p); otherwise (or p == 0) return input itself. inplace modifies
// input. p outside [0, 1]: "dropout probability has to be between 0 and 1, but got 1.5".
Tensor dropout(const Tensor& input, double p = 0.5, bool training = true, bool inplace = false,
               Generator* gen = nullptr);

}  // namespace functional
}  // namespace actlab::nn
