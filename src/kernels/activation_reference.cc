// Pointwise activation entry points: the SIMD path for float (split across the pool's threads for large
// arrays), and the scalar reference from the activation table for double and for reference mode.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>

#include "kernels/activation_kernels.h"
#include "kernels/parallel.h"
#include "kernels/simd.h"

namespace actlab::kernels {

namespace {
template <class T>
void reference_forward(ActId id, const ParamValues& p, const T* x, T* y, int64_t n) {
  const ScalarForward f = activation_row(id).forward;
  internal::parallel_chunks(n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] = static_cast<T>(f(static_cast<double>(x[i]), p));
  });
}
template <class T>
void reference_with_buffer(ActId id, const T* x, T* y, T* buf, int64_t n) {
  const ScalarForward f = activation_row(id).forward;
  internal::parallel_chunks(n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      y[i] = static_cast<T>(f(static_cast<double>(x[i]), {}));
      buf[i] = static_cast<T>(saved_buffer(id, static_cast<double>(x[i])));
    }
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
  const bool stream = n >= internal::kStreamElements;
  internal::parallel_chunks(n, [&](int64_t b, int64_t e) {
    internal::simd_act_forward(id, params, x + b, y + b, e - b, stream);
  });
}
void act_forward(ActId id, const ParamValues& params, const double* x, double* y, int64_t n) {
  reference_forward(id, params, x, y, n);
}

void forward_with_buffer(ActId id, const float* x, float* y, float* buf, int64_t n) {
  if (!is_pointwise(id) || activation_row(id).saves != Saves::Buffer)
    throw std::invalid_argument("forward_with_buffer: not a pointwise Buffer row");
  if (reference_kernels()) return reference_with_buffer(id, x, y, buf, n);
  internal::parallel_chunks(n, [&](int64_t b, int64_t e) {
    internal::simd_forward_with_buffer(id, x + b, y + b, buf + b, e - b);
  });
}
void forward_with_buffer(ActId id, const double* x, double* y, double* buf, int64_t n) {
  if (!is_pointwise(id) || activation_row(id).saves != Saves::Buffer)
    throw std::invalid_argument("forward_with_buffer: not a pointwise Buffer row");
  reference_with_buffer(id, x, y, buf, n);
}

void act_backward(ActId id, const ParamValues& params, bool saved_is_output, const float* grad_out,
                  const float* saved, float* grad_in, int64_t n) {
  if (reference_kernels()) return act_backward_reference(id, params, saved_is_output, grad_out, saved, grad_in, n);
  const bool stream = n >= internal::kStreamElements;
  internal::parallel_chunks(n, [&](int64_t b, int64_t e) {
    internal::simd_act_backward(id, params, saved_is_output, grad_out + b, saved + b, grad_in + b, e - b, stream);
  });
}
void act_backward(ActId id, const ParamValues& params, bool saved_is_output, const double* grad_out,
                  const double* saved, double* grad_in, int64_t n) {
  reference_backward(id, params, saved_is_output, grad_out, saved, grad_in, n);
}

}  // namespace actlab::kernels
