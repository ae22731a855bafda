// Activation kernels: SIMD (Highway, runtime dispatch) with a scalar reference beside each.
//
// All pointers are to contiguous arrays. float kernels dispatch to the best SIMD target unless reference
// kernels are selected (set_reference_kernels(true) or ACTLAB_REFERENCE_KERNELS=1); double kernels always
// run the reference (they exist for float64 gradient checks). Large arrays are split across OpenMP threads.
// `params` is the row's ParamValues (see activation_table.h), in the row's parameter order.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

#include "actlab/kernels/activation_table.h"
#include "actlab/kernels/control.h"

namespace actlab::kernels {

// ---- pointwise rows (is_pointwise(id)) ---------------------------------------------------------------
void act_forward(ActId id, const ParamValues& params, const float* x, float* y, int64_t n);
void act_forward(ActId id, const ParamValues& params, const double* x, double* y, int64_t n);
// grad_in[i] = backward(grad_out[i], saved[i]); saved is the input or, when saved_is_output, the output.
// x and y may alias (in-place), and grad_in may alias grad_out.
void act_backward(ActId id, const ParamValues& params, bool saved_is_output, const float* grad_out,
                  const float* saved, float* grad_in, int64_t n);
void act_backward(ActId id, const ParamValues& params, bool saved_is_output, const double* grad_out,
                  const double* saved, double* grad_in, int64_t n);

// The recording forward of a Saves::Buffer row (Tanhshrink, LogSigmoid): y as act_forward, and buf =
// saved_buffer(id, x), the tensor its backward reads: act_backward(id, p, /*saved_is_output=*/true, g, buf, ...)
// is g t^2 (Tanhshrink) or g buf (LogSigmoid), memory-bound.
void forward_with_buffer(ActId id, const float* x, float* y, float* buf, int64_t n);
void forward_with_buffer(ActId id, const double* x, double* y, double* buf, int64_t n);

// The scalar reference, always (the tests' oracle for the SIMD path).
void act_forward_reference(ActId id, const ParamValues& params, const float* x, float* y, int64_t n);
void act_backward_reference(ActId id, const ParamValues& params, bool saved_is_output, const float* grad_out,
                            const float* saved, float* grad_in, int64_t n);

// ---- softmax family: x viewed as [outer, dim, inner], reduction over the middle axis ---------------------
enum class SoftmaxKind : uint8_t { Softmax, LogSoftmax, Softmin };
void softmax_forward(SoftmaxKind kind, const float* x, float* y, int64_t outer, int64_t dim, int64_t inner);
void softmax_forward(SoftmaxKind kind, const double* x, double* y, int64_t outer, int64_t dim, int64_t inner);
// From the saved output y, as PyTorch's _softmax_backward_data / _log_softmax_backward_data.
// Softmin = softmax(-x): its backward is softmax's backward, negated.
void softmax_backward(SoftmaxKind kind, const float* grad_out, const float* y, float* grad_in, int64_t outer,
                      int64_t dim, int64_t inner);
void softmax_backward(SoftmaxKind kind, const double* grad_out, const double* y, double* grad_in, int64_t outer,
                      int64_t dim, int64_t inner);

// ---- GLU: x viewed as [outer, 2 * half, inner]; y = a * sigmoid(b), a = first half, b = second ----------
void glu_forward(const float* x, float* y, int64_t outer, int64_t half, int64_t inner);
void glu_forward(const double* x, double* y, int64_t outer, int64_t half, int64_t inner);
void glu_backward(const float* grad_out, const float* x, float* grad_in, int64_t outer, int64_t half, int64_t inner);
void glu_backward(const double* grad_out, const double* x, double* grad_in, int64_t outer, int64_t half,
                  int64_t inner);

// ---- PReLU / RReLU: x viewed as [outer, channels, inner]; slope[c] per channel (channels may be 1) ------
void prelu_forward(const float* x, const float* slope, float* y, int64_t outer, int64_t channels, int64_t inner);
void prelu_forward(const double* x, const double* slope, double* y, int64_t outer, int64_t channels, int64_t inner);
// grad_in = x > 0 ? g : slope * g;  grad_slope[c] = sum over outer, inner of (x > 0 ? 0 : x * g) (overwritten).
void prelu_backward(const float* grad_out, const float* x, const float* slope, float* grad_in, float* grad_slope,
                    int64_t outer, int64_t channels, int64_t inner);
void prelu_backward(const double* grad_out, const double* x, const double* slope, double* grad_in,
                    double* grad_slope, int64_t outer, int64_t channels, int64_t inner);

// ---- RReLU in training: counter-based noise ------------------------------------------------------------
// Element i's slope is lower + (upper - lower) * U(key, i), U in [0, 1) from a hash of the element's index
// and a per-call key (drawn once from the default generator). Counter-based, so the noise is the same
// however the work is split across threads. y = x <= 0 ? x * slope : x; dy/dx = x <= 0 ? slope : 1 (NaN
// takes 1, as x <= 0 is false). The recording forward also writes dy/dx (PyTorch's `noise` tensor), so the
// backward is one product. Index i is taken modulo 2^32 after the key absorbs i's high half.
struct RreluNoise {
  uint64_t key;
  float lower, range;  // range = upper - lower, rounded to float once
};
// U(key, i) in [0, 1) with 24 random bits: lowbias32 (C. Wellons' integer hash) of (i * golden + k).
inline uint32_t rrelu_key32(uint64_t key, uint64_t i) {
  uint32_t k = static_cast<uint32_t>(key) ^ static_cast<uint32_t>(key >> 32) * 0x85ebca6bu;
  return k + static_cast<uint32_t>(i >> 32) * 0xc2b2ae35u;
}
inline uint32_t rrelu_hash(uint32_t k, uint32_t i) {
  uint32_t h = i * 0x9e3779b9u + k;
  h ^= h >> 16;
  h *= 0x7feb352du;
  h ^= h >> 15;
  h *= 0x846ca68bu;
  h ^= h >> 16;
  return h;
}
inline float rrelu_slope(const RreluNoise& nz, uint64_t i) {
  const float u = static_cast<float>(rrelu_hash(rrelu_key32(nz.key, i), static_cast<uint32_t>(i)) >> 8) * 0x1p-24f;
  return std::fmaf(nz.range, u, nz.lower);  // one rounding, as the SIMD kernel's FMA
}
// x: [n] elements with indices 0, 1, ...; noise (may be null): dy/dx. y may alias x.
void rrelu_forward(const RreluNoise& nz, const float* x, float* y, int64_t n, float* noise = nullptr);
void rrelu_forward(const RreluNoise& nz, const double* x, double* y, int64_t n, double* noise = nullptr);
// gi = g * noise (gi may alias g).
void rrelu_backward(const float* g, const float* noise, float* gi, int64_t n);
void rrelu_backward(const double* g, const double* noise, double* gi, int64_t n);

// ---- control -------------------------------------------------------------------------------------------
// reference_kernels(), set_reference_kernels() and simd_target() are in actlab/kernels/control.h.
// Elements below which a kernel stays on one thread.
inline constexpr int64_t kParallelThreshold = 32768;

}  // namespace actlab::kernels
