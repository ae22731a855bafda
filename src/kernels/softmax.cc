// Softmax, LogSoftmax and Softmin over the middle axis of [outer, dim, inner].
// float with inner == 1 (a contiguous last dim) runs the SIMD row kernels, float with inner > 1 the SIMD
// column kernels (lanes along inner); double and reference mode run the scalar code below (double
// accumulation).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "core/parallel.h"
#include "kernels/activation_kernels.h"
#include "kernels/simd.h"

namespace actlab::kernels {

namespace {
// Scalar forward for one outer slice of dim * inner elements.
template <class T>
void softmax_slice(SoftmaxKind kind, const T* x, T* y, int64_t dim, int64_t inner, std::vector<double>& mx,
                   std::vector<double>& sum) {
  const double sign = kind == SoftmaxKind::Softmin ? -1.0 : 1.0;
  mx.assign(inner, -std::numeric_limits<double>::infinity());
  sum.assign(inner, 0.0);
  for (int64_t k = 0; k < dim; ++k)
    for (int64_t i = 0; i < inner; ++i) mx[i] = std::max(mx[i], sign * static_cast<double>(x[k * inner + i]));
  for (int64_t k = 0; k < dim; ++k)
    for (int64_t i = 0; i < inner; ++i) sum[i] += std::exp(sign * static_cast<double>(x[k * inner + i]) - mx[i]);
  if (kind == SoftmaxKind::LogSoftmax) {
    for (int64_t i = 0; i < inner; ++i) sum[i] = mx[i] + std::log(sum[i]);
    for (int64_t k = 0; k < dim; ++k)
      for (int64_t i = 0; i < inner; ++i) y[k * inner + i] = static_cast<T>(static_cast<double>(x[k * inner + i]) - sum[i]);
  } else {
    for (int64_t k = 0; k < dim; ++k)
      for (int64_t i = 0; i < inner; ++i)
        y[k * inner + i] = static_cast<T>(std::exp(sign * static_cast<double>(x[k * inner + i]) - mx[i]) / sum[i]);
  }
}

template <class T>
void softmax_backward_slice(SoftmaxKind kind, const T* g, const T* y, T* gx, int64_t dim, int64_t inner,
                            std::vector<double>& acc) {
  acc.assign(inner, 0.0);
  if (kind == SoftmaxKind::LogSoftmax) {
    for (int64_t k = 0; k < dim; ++k)
      for (int64_t i = 0; i < inner; ++i) acc[i] += static_cast<double>(g[k * inner + i]);
    for (int64_t k = 0; k < dim; ++k)
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t j = k * inner + i;
        gx[j] = static_cast<T>(static_cast<double>(g[j]) - std::exp(static_cast<double>(y[j])) * acc[i]);
      }
    return;
  }
  const double sign = kind == SoftmaxKind::Softmin ? -1.0 : 1.0;
  for (int64_t k = 0; k < dim; ++k)
    for (int64_t i = 0; i < inner; ++i) acc[i] += static_cast<double>(g[k * inner + i]) * y[k * inner + i];
  for (int64_t k = 0; k < dim; ++k)
    for (int64_t i = 0; i < inner; ++i) {
      const int64_t j = k * inner + i;
      gx[j] = static_cast<T>(sign * static_cast<double>(y[j]) * (static_cast<double>(g[j]) - acc[i]));
    }
}

bool parallel(int64_t outer, int64_t dim, int64_t inner) {
  return outer > 1 && outer * dim * inner >= kParallelThreshold;
}

template <class T>
void scalar_forward(SoftmaxKind kind, const T* x, T* y, int64_t outer, int64_t dim, int64_t inner) {
  detail::parallel_blocks(outer, parallel(outer, dim, inner), [&](int64_t b, int64_t e, int) {
    std::vector<double> mx, sum;
    for (int64_t o = b; o < e; ++o) softmax_slice(kind, x + o * dim * inner, y + o * dim * inner, dim, inner, mx, sum);
  });
}
template <class T>
void scalar_backward(SoftmaxKind kind, const T* g, const T* y, T* gx, int64_t outer, int64_t dim, int64_t inner) {
  detail::parallel_blocks(outer, parallel(outer, dim, inner), [&](int64_t b, int64_t e, int) {
    std::vector<double> acc;
    for (int64_t o = b; o < e; ++o) {
      const int64_t off = o * dim * inner;
      softmax_backward_slice(kind, g + off, y + off, gx + off, dim, inner, acc);
    }
  });
}

// inner > 1: the columns of each outer slice in strips of up to kStrip; threads take (slice, strip) pairs,
// so one large slice (outer = 1) still spreads over the threads.
constexpr int64_t kStrip = 512;
template <class F>
void for_each_strip(int64_t outer, int64_t dim, int64_t inner, F&& f) {
  const int64_t strips = (inner + kStrip - 1) / kStrip, tasks = outer * strips;
  detail::parallel_for(tasks, tasks > 1 && outer * dim * inner >= kParallelThreshold, [&](int64_t t, int) {
    const int64_t o = t / strips, i0 = (t % strips) * kStrip;
    f(o * dim * inner + i0, std::min(kStrip, inner - i0));
  });
}

// f(o) for every row o of [outer, dim] (inner == 1).
template <class F>
void for_each_row(int64_t outer, int64_t dim, F&& f) {
  detail::parallel_for(outer, parallel(outer, dim, 1), [&](int64_t o, int) { f(o); });
}
}  // namespace

void softmax_forward(SoftmaxKind kind, const float* x, float* y, int64_t outer, int64_t dim, int64_t inner) {
  if (outer <= 0 || dim <= 0 || inner <= 0) return;
  if (reference_kernels()) return scalar_forward(kind, x, y, outer, dim, inner);
  if (inner != 1) {
    for_each_strip(outer, dim, inner, [&](int64_t off, int64_t count) {
      internal::simd_softmax_cols(static_cast<int>(kind), x + off, y + off, dim, inner, count);
    });
    return;
  }
  for_each_row(outer, dim, [&](int64_t o) { internal::simd_softmax_row(static_cast<int>(kind), x + o * dim, y + o * dim, dim); });
}
void softmax_forward(SoftmaxKind kind, const double* x, double* y, int64_t outer, int64_t dim, int64_t inner) {
  if (outer <= 0 || dim <= 0 || inner <= 0) return;
  scalar_forward(kind, x, y, outer, dim, inner);
}

void softmax_backward(SoftmaxKind kind, const float* grad_out, const float* y, float* grad_in, int64_t outer,
                      int64_t dim, int64_t inner) {
  if (outer <= 0 || dim <= 0 || inner <= 0) return;
  if (reference_kernels()) return scalar_backward(kind, grad_out, y, grad_in, outer, dim, inner);
  if (inner != 1) {
    const bool stream = outer * dim * inner >= internal::kStreamElements;
    for_each_strip(outer, dim, inner, [&](int64_t off, int64_t count) {
      internal::simd_softmax_backward_cols(static_cast<int>(kind), grad_out + off, y + off, grad_in + off, dim, inner,
                                           count, stream);
    });
    return;
  }
  for_each_row(outer, dim, [&](int64_t o) {
    internal::simd_softmax_backward_row(static_cast<int>(kind), grad_out + o * dim, y + o * dim, grad_in + o * dim,
                                        dim);
  });
}
void softmax_backward(SoftmaxKind kind, const double* grad_out, const double* y, double* grad_in, int64_t outer,
                      int64_t dim, int64_t inner) {
  if (outer <= 0 || dim <= 0 || inner <= 0) return;
  scalar_backward(kind, grad_out, y, grad_in, outer, dim, inner);
}

}  // namespace actlab::kernels
