// Pointwise activation entry points: the SIMD path for float (split across OpenMP threads for large
// arrays), and the scalar reference from the activation table for double and for reference mode.
#include <algorithm>
#include <cstdint>

#include <omp.h>

#include "kernels/activation_kernels.h"

namespace actlab::kernels {
namespace internal {
// activation_simd.cc: single-threaded SIMD loops.
void simd_act_forward(ActId id, const ParamValues& p, const float* x, float* y, int64_t n);
void simd_act_backward(ActId id, const ParamValues& p, bool from_output, const float* g, const float* s, float* gi,
                       int64_t n);

// Splits [0, n) into one contiguous chunk per thread, each a multiple of 64 elements (whole vectors and
// cache lines), and calls f(begin, end) on each; one thread below kParallelThreshold.
template <class F>
void parallel_chunks(int64_t n, F&& f) {
  if (n < kParallelThreshold || omp_get_max_threads() == 1 || omp_in_parallel()) {
    if (n > 0) f(int64_t{0}, n);
    return;
  }
  const int64_t threads = omp_get_max_threads();
  constexpr int64_t kAlign = 64;
  const int64_t chunk = ((n + threads - 1) / threads + kAlign - 1) / kAlign * kAlign;
  const int64_t chunks = (n + chunk - 1) / chunk;
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t b = c * chunk;
    f(b, std::min(n, b + chunk));
  }
}
}  // namespace internal

namespace {
template <class T>
void reference_forward(ActId id, const ParamValues& p, const T* x, T* y, int64_t n) {
  const ScalarForward f = activation_row(id).forward;
  internal::parallel_chunks(n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] = static_cast<T>(f(static_cast<double>(x[i]), p));
  });
}
template <class T>
void reference_backward(ActId id, const ParamValues& p, bool from_output, const T* g, const T* s, T* gi, int64_t n) {
  const ScalarBackward f = activation_row(id).backward;
  internal::parallel_chunks(n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      gi[i] = static_cast<T>(f(static_cast<double>(g[i]), static_cast<double>(s[i]), from_output, p));
  });
}
}  // namespace

void act_forward_reference(ActId id, const ParamValues& params, const float* x, float* y, int64_t n) {
  reference_forward(id, params, x, y, n);
}
void act_backward_reference(ActId id, const ParamValues& params, bool saved_is_output, const float* grad_out,
                            const float* saved, float* grad_in, int64_t n) {
  reference_backward(id, params, saved_is_output, grad_out, saved, grad_in, n);
}

void act_forward(ActId id, const ParamValues& params, const float* x, float* y, int64_t n) {
  if (reference_kernels()) return act_forward_reference(id, params, x, y, n);
  internal::parallel_chunks(n, [&](int64_t b, int64_t e) {
    internal::simd_act_forward(id, params, x + b, y + b, e - b);
  });
}
void act_forward(ActId id, const ParamValues& params, const double* x, double* y, int64_t n) {
  reference_forward(id, params, x, y, n);
}

void act_backward(ActId id, const ParamValues& params, bool saved_is_output, const float* grad_out,
                  const float* saved, float* grad_in, int64_t n) {
  if (reference_kernels()) return act_backward_reference(id, params, saved_is_output, grad_out, saved, grad_in, n);
  internal::parallel_chunks(n, [&](int64_t b, int64_t e) {
    internal::simd_act_backward(id, params, saved_is_output, grad_out + b, saved + b, grad_in + b, e - b);
  });
}
void act_backward(ActId id, const ParamValues& params, bool saved_is_output, const double* grad_out,
                  const double* saved, double* grad_in, int64_t n) {
  reference_backward(id, params, saved_is_output, grad_out, saved, grad_in, n);
}

}  // namespace actlab::kernels
