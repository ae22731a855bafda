// GLU, PReLU and RReLU (training) kernels. GLU's float path runs the SIMD sigmoid on each contiguous
// half-block; PReLU runs LeakyReLU's SIMD loop per slope; RReLU hashes element indices (activation_kernels.h).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/parallel.h"
#include "kernels/activation_kernels.h"
#include "kernels/parallel.h"
#include "kernels/simd.h"

namespace actlab::kernels {

namespace {
// For outer slice o: a = x + o * 2m, b = a + m, out = y + o * m, with m = half * inner.
template <class T>
void glu_forward_scalar(const T* x, T* y, int64_t outer, int64_t m) {
  detail::parallel_for(outer, outer > 1 && outer * m >= kParallelThreshold, [&](int64_t o, int) {
    const T* a = x + o * 2 * m;
    const T* b = a + m;
    for (int64_t i = 0; i < m; ++i)
      y[o * m + i] = static_cast<T>(static_cast<double>(a[i]) * scalar::sigmoid(static_cast<double>(b[i])));
  });
}
template <class T>
void glu_backward_scalar(const T* g, const T* x, T* gi, int64_t outer, int64_t m) {
  detail::parallel_for(outer, outer > 1 && outer * m >= kParallelThreshold, [&](int64_t o, int) {
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
  });
}

// GLU over short rows (the last dim of a [N, 256] input: a and b are 128 floats each) reads 512 bytes of a,
// then 512 bytes of b, then jumps: the hardware prefetchers lose these streams, and at 16M elements the
// kernels ran at a third of their in-cache speed (forward 29-49 GB/s against 120). Each row therefore
// requests the lines of the row glu_rows_ahead(m) rows further on, ~8 kB ahead in x (its outputs' lines for
// writing), so every line is asked for once, early enough: forward 84-101 GB/s, backward 68-85 (was 35-61).
// Rows of 16 kB and more are long sequential runs the hardware follows by itself.
constexpr int64_t kFloatsPerLine = 64 / sizeof(float);
int64_t glu_rows_ahead(int64_t m) {
  if (2 * m * static_cast<int64_t>(sizeof(float)) >= 16384) return 0;
  return std::max<int64_t>(1, 2048 / (2 * m));
}
// Requests the cache lines of [p, p + len): to read, or (the outputs) to write.
void prefetch_to_read(const float* p, int64_t len) {
  for (int64_t k = 0; k < len; k += kFloatsPerLine) __builtin_prefetch(p + k);
}
void prefetch_to_write(const float* p, int64_t len) {
  for (int64_t k = 0; k < len; k += kFloatsPerLine) __builtin_prefetch(p + k, 1);
}
}  // namespace

void glu_forward(const float* x, float* y, int64_t outer, int64_t half, int64_t inner) {
  const int64_t m = half * inner;
  if (outer <= 0 || m <= 0) return;
  if (reference_kernels()) return glu_forward_scalar(x, y, outer, m);
  const int64_t ahead = glu_rows_ahead(m);
  detail::parallel_for(outer, outer > 1 && outer * m >= kParallelThreshold, [&](int64_t o, int) {
    if (ahead > 0 && o + ahead < outer) {
      prefetch_to_read(x + (o + ahead) * 2 * m, 2 * m);
      prefetch_to_write(y + (o + ahead) * m, m);
    }
    internal::simd_glu_forward(x + o * 2 * m, x + o * 2 * m + m, y + o * m, m);
  });
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
  const int64_t ahead = glu_rows_ahead(m);
  detail::parallel_for(outer, outer > 1 && outer * m >= kParallelThreshold, [&](int64_t o, int) {
    if (ahead > 0 && o + ahead < outer) {
      prefetch_to_read(grad_out + (o + ahead) * m, m);
      prefetch_to_read(x + (o + ahead) * 2 * m, 2 * m);
      prefetch_to_write(grad_in + (o + ahead) * 2 * m, 2 * m);
    }
    internal::simd_glu_backward(grad_out + o * m, x + o * 2 * m, x + o * 2 * m + m, grad_in + o * 2 * m,
                                grad_in + o * 2 * m + m, m);
  });
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
    detail::parallel_blocks(n, par, [&](int64_t b, int64_t e, int) {
      for (int64_t i = b; i < e; ++i) y[i] = prelu_value(x[i], a);
    });
    return;
  }
  detail::parallel_for(outer * channels, par, [&](int64_t r, int) {
    const T a = slope[r % channels];
    const int64_t off = r * inner;
    for (int64_t i = 0; i < inner; ++i) y[off + i] = prelu_value(x[off + i], a);
  });
}
template <class T>
void prelu_backward_impl(const T* g, const T* x, const T* slope, T* gi, T* gs, int64_t outer, int64_t channels,
                         int64_t inner) {
  std::vector<double> acc(static_cast<size_t>(channels), 0.0);
  const bool par = outer * channels * inner >= kParallelThreshold;
  if (channels == 1) {  // a flat loop with a reduction for the single slope's gradient
    const T a = slope[0];
    const int64_t n = outer * inner;
    // Summed in fixed blocks, then the blocks in order: the same bits with any thread count.
    constexpr int64_t kBlock = 16384;
    const int64_t blocks = (n + kBlock - 1) / kBlock;
    std::vector<double> part(static_cast<size_t>(blocks), 0.0);
    detail::parallel_for(blocks, par && blocks > 1, [&](int64_t k, int) {
      double s = 0.0;
      for (int64_t i = k * kBlock; i < std::min(n, (k + 1) * kBlock); ++i) {
        const T v = x[i], gv = g[i];
        gi[i] = gv * (v > 0 ? T(1) : a);
        s += static_cast<double>(std::min(v, T(0))) * static_cast<double>(gv);
      }
      part[static_cast<size_t>(k)] = s;
    });
    double s = 0.0;
    for (double v : part) s += v;
    gs[0] = static_cast<T>(s);
    return;
  }
  // Per channel sums in double; the channel loop is the parallel one so no reduction races.
  detail::parallel_for(channels, par && channels > 1, [&](int64_t c, int) {
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
  });
  for (int64_t c = 0; c < channels; ++c) gs[c] = static_cast<T>(acc[static_cast<size_t>(c)]);
}
}  // namespace

// float PReLU on the SIMD kernels. The work is cut into runs that share one slope: with one slope, fixed
// blocks of kPreluBlock elements; with one per channel, the [outer, channel] rows of `inner` elements. The
// slope gradient is summed per run (compensated) and the runs' sums in a fixed order, so the bits do not
// depend on the thread count. Rows shorter than kMinSimdRun run the scalar loops above.
namespace {
constexpr int64_t kPreluBlock = 16384;
constexpr int64_t kMinSimdRun = 16;

// Calls f(run, begin, length, channel) for every run, over the threads when the tensor is large.
template <class F>
void for_each_prelu_run(int64_t outer, int64_t channels, int64_t inner, F&& f) {
  const int64_t n = outer * channels * inner;
  const int64_t runs = channels == 1 ? (n + kPreluBlock - 1) / kPreluBlock : outer * channels;
  detail::parallel_for(runs, runs > 1 && n >= kParallelThreshold, [&](int64_t r, int) {
    if (channels == 1) {
      f(r, r * kPreluBlock, std::min(kPreluBlock, n - r * kPreluBlock), int64_t{0});
    } else {
      f(r, r * inner, inner, r % channels);
    }
  });
}
bool prelu_simd(int64_t channels, int64_t inner) {
  return !reference_kernels() && (channels == 1 || inner >= kMinSimdRun);
}
}  // namespace

void prelu_forward(const float* x, const float* slope, float* y, int64_t outer, int64_t channels, int64_t inner) {
  if (!prelu_simd(channels, inner)) return prelu_forward_impl(x, slope, y, outer, channels, inner);
  const bool stream = outer * channels * inner >= internal::kStreamElements;  // as the elementwise ops
  for_each_prelu_run(outer, channels, inner, [&](int64_t, int64_t b, int64_t len, int64_t c) {
    internal::simd_act_forward(ActId::LeakyReLU, ParamValues{slope[c]}, x + b, y + b, len, stream);
  });
}
void prelu_forward(const double* x, const double* slope, double* y, int64_t outer, int64_t channels, int64_t inner) {
  prelu_forward_impl(x, slope, y, outer, channels, inner);
}
void prelu_backward(const float* grad_out, const float* x, const float* slope, float* grad_in, float* grad_slope,
                    int64_t outer, int64_t channels, int64_t inner) {
  if (!prelu_simd(channels, inner))
    return prelu_backward_impl(grad_out, x, slope, grad_in, grad_slope, outer, channels, inner);
  const int64_t n = outer * channels * inner;
  std::vector<double> part(static_cast<size_t>(channels == 1 ? (n + kPreluBlock - 1) / kPreluBlock : n / inner));
  const bool stream = n >= internal::kStreamElements;
  for_each_prelu_run(outer, channels, inner, [&](int64_t r, int64_t b, int64_t len, int64_t c) {
    part[static_cast<size_t>(r)] =
        internal::simd_prelu_backward(grad_out + b, x + b, grad_in + b, len, slope[c], stream);
  });
  std::vector<double> acc(static_cast<size_t>(channels), 0.0);
  for (size_t r = 0; r < part.size(); ++r) acc[r % static_cast<size_t>(channels)] += part[r];
  for (int64_t c = 0; c < channels; ++c) grad_slope[c] = static_cast<float>(acc[static_cast<size_t>(c)]);
}
void prelu_backward(const double* grad_out, const double* x, const double* slope, double* grad_in,
                    double* grad_slope, int64_t outer, int64_t channels, int64_t inner) {
  prelu_backward_impl(grad_out, x, slope, grad_in, grad_slope, outer, channels, inner);
}

namespace {
// Calls f(begin, end) over the threads, each piece inside one 2^32-element span of indices (the SIMD
// kernel counts indices in 32 bits; the span's high half goes into the key).
template <class F>
void rrelu_pieces(int64_t n, F&& f) {
  internal::parallel_chunks(n, [&](int64_t b, int64_t e) {
    constexpr int64_t kSpan = int64_t{1} << 32;
    for (int64_t s = b; s < e; s = std::min(e, (s / kSpan + 1) * kSpan)) f(s, std::min(e, (s / kSpan + 1) * kSpan));
  });
}
template <class T>
void rrelu_scalar(const RreluNoise& nz, const T* x, T* y, T* noise, int64_t n) {
  rrelu_pieces(n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const T slope = static_cast<T>(rrelu_slope(nz, static_cast<uint64_t>(i)));
      const bool neg = x[i] <= 0;
      if (noise != nullptr) noise[i] = neg ? slope : T(1);
      y[i] = neg ? x[i] * slope : x[i];
    }
  });
}
template <class T>
void mul_scalar(const T* a, const T* b, T* out, int64_t n) {
  internal::parallel_chunks(n, [&](int64_t s, int64_t e) {
    for (int64_t i = s; i < e; ++i) out[i] = a[i] * b[i];
  });
}
}  // namespace

void rrelu_forward(const RreluNoise& nz, const float* x, float* y, int64_t n, float* noise) {
  if (reference_kernels()) return rrelu_scalar(nz, x, y, noise, n);
  rrelu_pieces(n, [&](int64_t b, int64_t e) {
    const auto i = static_cast<uint64_t>(b);
    internal::simd_rrelu(rrelu_key32(nz.key, i), static_cast<uint32_t>(i), nz.lower, nz.range, x + b, y + b,
                         noise == nullptr ? nullptr : noise + b, e - b);
  });
}
void rrelu_forward(const RreluNoise& nz, const double* x, double* y, int64_t n, double* noise) {
  rrelu_scalar(nz, x, y, noise, n);
}
void rrelu_backward(const float* g, const float* noise, float* gi, int64_t n) {
  if (reference_kernels()) return mul_scalar(g, noise, gi, n);
  const bool stream = n >= internal::kStreamElements;
  internal::parallel_chunks(n, [&](int64_t b, int64_t e) { internal::simd_mul(g + b, noise + b, gi + b, e - b, stream); });
}
void rrelu_backward(const double* g, const double* noise, double* gi, int64_t n) { mul_scalar(g, noise, gi, n); }

}  // namespace actlab::kernels
