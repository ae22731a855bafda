// GLU and PReLU kernels. GLU's float path runs the SIMD sigmoid on each contiguous half-block.
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/activation_kernels.h"

namespace actlab::kernels {
namespace internal {
void simd_glu_forward(const float* a, const float* b, float* y, int64_t n);
void simd_glu_backward(const float* g, const float* a, const float* b, float* ga, float* gb, int64_t n);
}  // namespace internal

namespace {
// For outer slice o: a = x + o * 2m, b = a + m, out = y + o * m, with m = half * inner.
template <class T>
void glu_forward_scalar(const T* x, T* y, int64_t outer, int64_t m) {
#pragma omp parallel for schedule(static) if (outer > 1 && outer * m >= kParallelThreshold)
  for (int64_t o = 0; o < outer; ++o) {
    const T* a = x + o * 2 * m;
    const T* b = a + m;
    for (int64_t i = 0; i < m; ++i)
      y[o * m + i] = static_cast<T>(static_cast<double>(a[i]) * scalar::sigmoid(static_cast<double>(b[i])));
  }
}
template <class T>
void glu_backward_scalar(const T* g, const T* x, T* gi, int64_t outer, int64_t m) {
#pragma omp parallel for schedule(static) if (outer > 1 && outer * m >= kParallelThreshold)
  for (int64_t o = 0; o < outer; ++o) {
    const T* a = x + o * 2 * m;
    const T* b = a + m;
    T* ga = gi + o * 2 * m;
    T* gb = ga + m;
    for (int64_t i = 0; i < m; ++i) {
      const double s = scalar::sigmoid(static_cast<double>(b[i]));
      const double gv = static_cast<double>(g[o * m + i]);
      ga[i] = static_cast<T>(gv * s);
      // 1 - sigmoid(b) as sigmoid(-b): no cancellation for large b.
      gb[i] = static_cast<T>(gv * static_cast<double>(a[i]) * s * scalar::sigmoid(-static_cast<double>(b[i])));
    }
  }
}
}  // namespace

void glu_forward(const float* x, float* y, int64_t outer, int64_t half, int64_t inner) {
  const int64_t m = half * inner;
  if (outer <= 0 || m <= 0) return;
  if (reference_kernels()) return glu_forward_scalar(x, y, outer, m);
#pragma omp parallel for schedule(static) if (outer > 1 && outer * m >= kParallelThreshold)
  for (int64_t o = 0; o < outer; ++o) internal::simd_glu_forward(x + o * 2 * m, x + o * 2 * m + m, y + o * m, m);
}
void glu_forward(const double* x, double* y, int64_t outer, int64_t half, int64_t inner) {
  const int64_t m = half * inner;
  if (outer <= 0 || m <= 0) return;
  glu_forward_scalar(x, y, outer, m);
}
void glu_backward(const float* grad_out, const float* x, float* grad_in, int64_t outer, int64_t half, int64_t inner) {
  const int64_t m = half * inner;
  if (outer <= 0 || m <= 0) return;
  if (reference_kernels()) return glu_backward_scalar(grad_out, x, grad_in, outer, m);
#pragma omp parallel for schedule(static) if (outer > 1 && outer * m >= kParallelThreshold)
  for (int64_t o = 0; o < outer; ++o)
    internal::simd_glu_backward(grad_out + o * m, x + o * 2 * m, x + o * 2 * m + m, grad_in + o * 2 * m,
                                grad_in + o * 2 * m + m, m);
}
void glu_backward(const double* grad_out, const double* x, double* grad_in, int64_t outer, int64_t half,
                  int64_t inner) {
  const int64_t m = half * inner;
  if (outer <= 0 || m <= 0) return;
  glu_backward_scalar(grad_out, x, grad_in, outer, m);
}

namespace {
// x > 0 ? x : a x without a branch (random signs mispredict): max(x, 0) + a min(x, 0) is the same value
// for every x, -0.0 and NaN included (std::max/min return their first argument when the test fails).
template <class T>
inline T prelu_value(T v, T a) {
  return std::max(v, T(0)) + a * std::min(v, T(0));
}

template <class T>
void prelu_forward_impl(const T* x, const T* slope, T* y, int64_t outer, int64_t channels, int64_t inner) {
  const bool par = outer * channels * inner >= kParallelThreshold;
  if (channels == 1) {  // one slope for everything: a flat loop the threads split evenly
    const T a = slope[0];
    const int64_t n = outer * inner;
#pragma omp parallel for simd schedule(static) if (par)
    for (int64_t i = 0; i < n; ++i) y[i] = prelu_value(x[i], a);
    return;
  }
#pragma omp parallel for collapse(2) schedule(static) if (par)
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t c = 0; c < channels; ++c) {
      const T a = slope[c];
      const int64_t off = (o * channels + c) * inner;
      for (int64_t i = 0; i < inner; ++i) y[off + i] = prelu_value(x[off + i], a);
    }
}
template <class T>
void prelu_backward_impl(const T* g, const T* x, const T* slope, T* gi, T* gs, int64_t outer, int64_t channels,
                         int64_t inner) {
  std::vector<double> acc(static_cast<size_t>(channels), 0.0);
  const bool par = outer * channels * inner >= kParallelThreshold;
  if (channels == 1) {  // a flat loop with a reduction for the single slope's gradient
    const T a = slope[0];
    const int64_t n = outer * inner;
    double s = 0.0;
#pragma omp parallel for simd schedule(static) reduction(+ : s) if (par)
    for (int64_t i = 0; i < n; ++i) {
      const T v = x[i], gv = g[i];
      gi[i] = gv * (v > 0 ? T(1) : a);
      s += static_cast<double>(std::min(v, T(0))) * static_cast<double>(gv);
    }
    gs[0] = static_cast<T>(s);
    return;
  }
  // Per channel sums in double; the channel loop is the parallel one so no reduction races.
#pragma omp parallel for schedule(static) if (par && channels > 1)
  for (int64_t c = 0; c < channels; ++c) {
    const T a = slope[c];
    double s = 0.0;
    for (int64_t o = 0; o < outer; ++o) {
      const int64_t off = (o * channels + c) * inner;
      for (int64_t i = 0; i < inner; ++i) {
        const T v = x[off + i], gv = g[off + i];
        gi[off + i] = v > 0 ? gv : a * gv;
        s += v > 0 ? 0.0 : static_cast<double>(v) * static_cast<double>(gv);
      }
    }
    acc[static_cast<size_t>(c)] = s;
  }
  for (int64_t c = 0; c < channels; ++c) gs[c] = static_cast<T>(acc[static_cast<size_t>(c)]);
}
}  // namespace

void prelu_forward(const float* x, const float* slope, float* y, int64_t outer, int64_t channels, int64_t inner) {
  prelu_forward_impl(x, slope, y, outer, channels, inner);
}
void prelu_forward(const double* x, const double* slope, double* y, int64_t outer, int64_t channels, int64_t inner) {
  prelu_forward_impl(x, slope, y, outer, channels, inner);
}
void prelu_backward(const float* grad_out, const float* x, const float* slope, float* grad_in, float* grad_slope,
                    int64_t outer, int64_t channels, int64_t inner) {
  prelu_backward_impl(grad_out, x, slope, grad_in, grad_slope, outer, channels, inner);
}
void prelu_backward(const double* grad_out, const double* x, const double* slope, double* grad_in,
                    double* grad_slope, int64_t outer, int64_t channels, int64_t inner) {
  prelu_backward_impl(grad_out, x, slope, grad_in, grad_slope, outer, channels, inner);
}

}  // namespace actlab::kernels
