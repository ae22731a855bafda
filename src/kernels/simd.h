// The single-threaded SIMD entry points (activation_simd.cc, dispatched to the best target at run time).
// The public functions in activation_kernels.h add the thread split and the reference switch.
#pragma once

#include <cstdint>
#include <string>

#include "kernels/activation_kernels.h"

namespace actlab::kernels::internal {

// Outputs of at least this many elements are written with streaming (non-temporal) stores: an output
// that large will not be in cache for its reader anyway, and streaming skips reading every output line
// before writing it (a third of the memory traffic of an elementwise op).
inline constexpr int64_t kStreamElements = int64_t{4} << 20;

void simd_act_forward(ActId id, const ParamValues& p, const float* x, float* y, int64_t n, bool stream = false);
void simd_act_backward(ActId id, const ParamValues& p, bool from_output, const float* g, const float* s, float* gi,
                       int64_t n, bool stream = false);
void simd_forward_with_buffer(ActId id, const float* x, float* y, float* buf, int64_t n);
void simd_softmax_row(int kind, const float* x, float* y, int64_t n);
void simd_softmax_backward_row(int kind, const float* g, const float* y, float* gx, int64_t n);
void simd_softmax_cols(int kind, const float* x, float* y, int64_t dim, int64_t stride, int64_t count);
void simd_softmax_backward_cols(int kind, const float* g, const float* y, float* gx, int64_t dim, int64_t stride,
                                int64_t count, bool stream = false);
double simd_prelu_backward(const float* g, const float* x, float* gi, int64_t n, float a, bool stream = false);
void simd_rrelu(uint32_t key32, uint32_t i0, float lower, float range, const float* x, float* y, float* noise,
                int64_t n);
void simd_mul(const float* a, const float* b, float* out, int64_t n, bool stream = false);
void simd_glu_forward(const float* a, const float* b, float* y, int64_t n);
void simd_glu_backward(const float* g, const float* a, const float* b, float* ga, float* gb, int64_t n);
std::string simd_target_name();

}  // namespace actlab::kernels::internal
