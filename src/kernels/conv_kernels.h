// Direct 3x3 convolution kernel (stride 1, padding 1, dilation 1, one group) on Highway, for one image at a
// time; the callers in src/ops/conv_ops.cc spread images over threads. Float32 convolutions of this shape use
// them instead of im2col + GEMM for the output and both gradients.
//
// A channel plane of H x W floats is read through a padded copy (conv3x3_prepare): flattened, output position p
// reads p + (ky - 1) W + (kx - 1); rows above and below the plane are zero padding, and the lanes whose read
// wraps around a row edge (kx = 0 at column 0, kx = 2 at column W - 1) are masked to zero in the kernels. (Three
// copies with a zeroed column each, which needed no masks, cost more to write than the masks cost.)
#pragma once

#include <cstdint>

namespace actlab::kernels {

// The padded layout: channel c starts at c * stride; plane position p is at offset + p.
// The zeros before (W + 1) and after (W + 1 + three vectors of 16 floats) cover every shifted read of a vector of
// up to 16 lanes starting at any output position, including a last vector that runs past the plane.
struct Conv3x3Pad {
  int64_t offset, stride;
  Conv3x3Pad(int64_t H, int64_t W) : offset(W + 1), stride((H * W + 2 * (W + 1) + 48 + 15) / 16 * 16) {}
};
// Floats of padded buffer for C channels of H x W.
inline int64_t conv3x3_padded_size(int64_t C, int64_t H, int64_t W) { return C * Conv3x3Pad(H, W).stride; }
// Copies C planes of `in` ([C, H, W]) into `padded` (conv3x3_padded_size floats).
void conv3x3_prepare(const float* in, float* padded, int64_t C, int64_t H, int64_t W);
// out[j][p] = bias[j] (0 without bias) + sum over i < Cin, taps t = 3 ky + kx of K[(i * 9 + t) * Cout + j] *
// input plane i at (y + ky - 1, x + kx - 1), zero outside; `padded` from conv3x3_prepare, out [Cout, H, W].
void conv3x3_forward(const float* padded, const float* K, const float* bias, float* out, int64_t Cin, int64_t Cout,
                     int64_t H, int64_t W);

// The weight gradient's other operand: C planes of a gradient [C, H, W] copied conv3x3_grad_stride floats apart,
// zero past each plane (conv3x3_grad_stride(H, W) * C floats); `out` must be 64-byte aligned (the kernel's loads
// of it are aligned: unaligned, most straddled two cache lines and halved the kernel's speed).
inline int64_t conv3x3_grad_stride(int64_t H, int64_t W) { return (H * W + 15) / 16 * 16; }
void conv3x3_prepare_grad(const float* g, float* out, int64_t C, int64_t H, int64_t W);
// acc[c] += the sum of the P values of plane c, planes `stride` apart (the bias gradient); a fixed order of
// lanes, then the lanes' total.
void conv3x3_plane_sums(const float* g, int64_t C, int64_t P, int64_t stride, float* acc);
// gw[(j * Cin + i) * 9 + t] += the sum over images b < count and positions p of g_b[j][p] times input plane i of
// image b at tap t (as above): padded[b] from conv3x3_prepare, g[b] from conv3x3_prepare_grad. The sums run in
// a fixed order (lanes, then the lanes' total), whatever the thread count.
void conv3x3_weight_grad(const float* const* padded, const float* const* g, int64_t count, float* gw, int64_t Cin,
                         int64_t Cout, int64_t H, int64_t W);

// Winograd F(2x2, 3x3) for the same convolution (kernels/winograd_simd.cc), for channel counts that are multiples
// of 16: 2.25x fewer multiplies than the direct kernel. U: 16 * C * O floats of transformed weights, from
// w [O, C, 3, 3] for the forward convolution (input channels C, output O) or, with for_input_grad, for the input
// gradient (gy's O channels in, C out, the kernel turned by 180 degrees).
void winograd_weights(const float* w, int64_t O, int64_t C, bool for_input_grad, float* U);
// Floats of scratch conv3x3_winograd needs for one image.
int64_t winograd_scratch_size(int64_t Cin, int64_t Cout, int64_t H, int64_t W);
// One image: out [Cout, H, W] from in [Cin, H, W] (planes, unpadded). Returns false, leaving `out` untouched, when
// an output came out infinite or NaN: the transforms mix a tile's inputs, so an infinity there can turn outputs
// that do not depend on it into NaN; the caller then runs the direct kernel, which propagates them as im2col does.
bool conv3x3_winograd(const float* in, const float* U, const float* bias, float* out, int64_t Cin, int64_t Cout,
                      int64_t H, int64_t W, float* scratch);

// Weight gradient by Winograd: gw [Cout, Cin, 3, 3] += the gradient of images [0, count) (x[b]: [Cin, H, W],
// gy[b]: [Cout, H, W], unpadded), summed in a fixed order. Returns false, leaving gw untouched, when the sums
// came out infinite or NaN (the caller then takes the direct kernel).
int64_t winograd_weight_grad_scratch_size(int64_t Cin, int64_t Cout, int64_t H, int64_t W);
bool conv3x3_winograd_weight_grad(const float* const* x, const float* const* gy, int64_t count, float* gw,
                                  int64_t Cin, int64_t Cout, int64_t H, int64_t W, float* scratch);

}  // namespace actlab::kernels
