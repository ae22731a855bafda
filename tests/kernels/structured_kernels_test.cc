// Softmax family, GLU and PReLU kernels against straightforward double loops and finite differences.
#include <gtest/gtest.h>

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "kernels/activation_kernels.h"
#include "kernels/simd.h"

namespace actlab::kernels {
namespace {

std::vector<double> rand_vec(size_t n, uint32_t seed, double lo = -5, double hi = 5) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<double> v(n);
  for (auto& x : v) x = static_cast<float>(u(rng));  // float-representable
  return v;
}
std::vector<float> to_float(const std::vector<double>& v) { return {v.begin(), v.end()}; }
// The first 64-byte aligned float of v (which has kPad floats to spare): a std::vector's large buffers start
// 16 bytes past a page, and the kernels stream into aligned outputs only.
constexpr size_t kPad = 16;
float* aligned(std::vector<float>& v) {
  const auto misalign = reinterpret_cast<uintptr_t>(v.data()) % 64;
  return v.data() + (misalign == 0 ? 0 : (64 - misalign) / sizeof(float));
}

// Plain double softmax of sign * x along dim.
double ref_softmax(SoftmaxKind kind, const std::vector<double>& x, int64_t o, int64_t k, int64_t i, int64_t dim,
                   int64_t inner) {
  const double s = kind == SoftmaxKind::Softmin ? -1 : 1;
  double m = -INFINITY, sum = 0;
  for (int64_t j = 0; j < dim; ++j) m = std::max(m, s * x[(o * dim + j) * inner + i]);
  for (int64_t j = 0; j < dim; ++j) sum += std::exp(s * x[(o * dim + j) * inner + i] - m);
  const double v = s * x[(o * dim + k) * inner + i] - m;
  return kind == SoftmaxKind::LogSoftmax ? v - std::log(sum) : std::exp(v) / sum;
}

struct Shape {
  int64_t outer, dim, inner;
};
const Shape kShapes[] = {{1, 1, 1}, {3, 7, 1}, {2, 17, 1}, {5, 33, 1}, {4, 1000, 1}, {64, 1024, 1},
                         {2, 5, 3}, {3, 10, 16}, {1, 4, 9999}};
const SoftmaxKind kKinds[] = {SoftmaxKind::Softmax, SoftmaxKind::LogSoftmax, SoftmaxKind::Softmin};

TEST(KernelSoftmax, ForwardMatchesDoubleAndSumsToOne) {
  for (bool ref : {false, true}) {
    set_reference_kernels(ref);
    for (const Shape& s : kShapes)
      for (SoftmaxKind kind : kKinds) {
        const size_t n = static_cast<size_t>(s.outer * s.dim * s.inner);
        const auto xd = rand_vec(n, static_cast<uint32_t>(n), -20, 20);
        const auto x = to_float(xd);
        std::vector<float> y(n);
        std::vector<double> yd(n);
        softmax_forward(kind, x.data(), y.data(), s.outer, s.dim, s.inner);
        softmax_forward(kind, xd.data(), yd.data(), s.outer, s.dim, s.inner);
        for (int64_t o = 0; o < s.outer; ++o)
          for (int64_t i = 0; i < s.inner; ++i) {
            double sum = 0;
            for (int64_t k = 0; k < s.dim; ++k) {
              const size_t j = static_cast<size_t>((o * s.dim + k) * s.inner + i);
              const double want = ref_softmax(kind, xd, o, k, i, s.dim, s.inner);
              ASSERT_NEAR(yd[j], want, 1e-12 * (1 + std::fabs(want)));
              ASSERT_NEAR(y[j], want, 2e-6 * (1 + std::fabs(want))) << "dim " << s.dim << " inner " << s.inner;
              sum += kind == SoftmaxKind::LogSoftmax ? std::exp(static_cast<double>(y[j])) : y[j];
            }
            ASSERT_NEAR(sum, 1.0, 1e-5);
          }
      }
  }
  set_reference_kernels(false);
}

TEST(KernelSoftmax, StableForLargeInputs) {
  const std::vector<float> x = {1000.0f, 1001.0f, -1000.0f, 3e38f};
  std::vector<float> y(4);
  softmax_forward(SoftmaxKind::Softmax, x.data(), y.data(), 1, 3, 1);
  EXPECT_NEAR(y[0], 1 / (1 + std::exp(1.0)), 1e-6);
  EXPECT_NEAR(y[1], 1 / (1 + std::exp(-1.0)), 1e-6);
  EXPECT_EQ(y[2], 0.0f);
  softmax_forward(SoftmaxKind::LogSoftmax, x.data(), y.data(), 1, 4, 1);
  EXPECT_NEAR(y[3], 0.0f, 1e-6);
  EXPECT_TRUE(std::isfinite(y[0]));
}

TEST(KernelSoftmax, BackwardMatchesFiniteDifferences) {
  for (const Shape& s : {Shape{2, 5, 1}, Shape{3, 17, 1}, Shape{2, 4, 3}})
    for (SoftmaxKind kind : kKinds) {
      const size_t n = static_cast<size_t>(s.outer * s.dim * s.inner);
      const auto x = rand_vec(n, 11, -3, 3);
      const auto g = rand_vec(n, 12, -1, 1);
      std::vector<double> y(n), gx(n), yp(n), ym(n);
      softmax_forward(kind, x.data(), y.data(), s.outer, s.dim, s.inner);
      softmax_backward(kind, g.data(), y.data(), gx.data(), s.outer, s.dim, s.inner);
      const double h = 1e-6;
      for (size_t j = 0; j < n; ++j) {
        auto xp = x, xm = x;
        xp[j] += h;
        xm[j] -= h;
        softmax_forward(kind, xp.data(), yp.data(), s.outer, s.dim, s.inner);
        softmax_forward(kind, xm.data(), ym.data(), s.outer, s.dim, s.inner);
        double fd = 0;
        for (size_t k = 0; k < n; ++k) fd += g[k] * (yp[k] - ym[k]) / (2 * h);
        ASSERT_NEAR(gx[j], fd, 1e-7) << "kind " << static_cast<int>(kind) << " j " << j;
      }
      // float (SIMD for inner == 1) against the double backward.
      std::vector<float> yf = to_float(y), gf = to_float(g), gxf(n);
      softmax_backward(kind, gf.data(), yf.data(), gxf.data(), s.outer, s.dim, s.inner);
      for (size_t j = 0; j < n; ++j) ASSERT_NEAR(gxf[j], gx[j], 1e-5 * (1 + std::fabs(gx[j])));
    }
}

TEST(KernelSoftmax, FloatBackwardLargeRows) {
  const int64_t outer = 8, dim = 4099;
  const size_t n = static_cast<size_t>(outer * dim);
  const auto xd = rand_vec(n, 21), gd = rand_vec(n, 22, -1, 1);
  for (SoftmaxKind kind : kKinds) {
    std::vector<double> yd(n), gxd(n);
    softmax_forward(kind, xd.data(), yd.data(), outer, dim, 1);
    softmax_backward(kind, gd.data(), yd.data(), gxd.data(), outer, dim, 1);
    auto yf = to_float(yd), gf = to_float(gd);
    std::vector<float> gxf(n);
    softmax_backward(kind, gf.data(), yf.data(), gxf.data(), outer, dim, 1);
    for (size_t j = 0; j < n; ++j) ASSERT_NEAR(gxf[j], gxd[j], 2e-5 * (1 + std::fabs(gxd[j])));
  }
}

double sigmoid(double v) { return 1 / (1 + std::exp(-v)); }

TEST(KernelGlu, MatchesLoops) {
  for (bool ref : {false, true}) {
    set_reference_kernels(ref);
    for (const Shape& s : {Shape{1, 1, 1}, Shape{3, 5, 1}, Shape{2, 7, 3}, Shape{4, 9000, 2}}) {
      const int64_t half = s.dim;
      const size_t nin = static_cast<size_t>(s.outer * 2 * half * s.inner), nout = nin / 2;
      const auto xd = rand_vec(nin, 5, -30, 30), gd = rand_vec(nout, 6, -1, 1);
      const auto x = to_float(xd), g = to_float(gd);
      std::vector<float> y(nout), gi(nin);
      std::vector<double> ydd(nout), gid(nin);
      glu_forward(x.data(), y.data(), s.outer, half, s.inner);
      glu_backward(g.data(), x.data(), gi.data(), s.outer, half, s.inner);
      glu_forward(xd.data(), ydd.data(), s.outer, half, s.inner);
      glu_backward(gd.data(), xd.data(), gid.data(), s.outer, half, s.inner);
      for (int64_t o = 0; o < s.outer; ++o)
        for (int64_t h = 0; h < half; ++h)
          for (int64_t i = 0; i < s.inner; ++i) {
            const size_t ia = static_cast<size_t>((o * 2 * half + h) * s.inner + i);
            const size_t ib = static_cast<size_t>((o * 2 * half + half + h) * s.inner + i);
            const size_t iy = static_cast<size_t>((o * half + h) * s.inner + i);
            const double sb = sigmoid(xd[ib]);
            const double wy = xd[ia] * sb, wa = gd[iy] * sb, wb = gd[iy] * xd[ia] * sb * sigmoid(-xd[ib]);
            ASSERT_NEAR(ydd[iy], wy, 1e-12 * (1 + std::fabs(wy)));
            ASSERT_NEAR(gid[ia], wa, 1e-12);
            ASSERT_NEAR(gid[ib], wb, 1e-12 * (1 + std::fabs(wb)));
            ASSERT_NEAR(y[iy], wy, 4e-7 * std::fabs(wy) + 1e-30);
            ASSERT_NEAR(gi[ia], wa, 4e-7 * std::fabs(wa) + 1e-30);
            ASSERT_NEAR(gi[ib], wb, 6e-7 * std::fabs(wb) + 1e-30);
          }
    }
  }
  set_reference_kernels(false);
}

// sigmoid(b) at the ends of the float range: for b below about -88.7 the results are tiny, subnormal
// or exactly 0 (b = -1000, -inf), never a clamped exp's 2^-126-sized value; for large b, 1 - sigmoid(b) is
// sigmoid(-b), so the b-gradient g a sigmoid(b) sigmoid(-b) keeps its tiny true value (PyTorch computes
// 1 - sigmoid(b), which is 0 in float64 beyond b = 37.4 and in float32 beyond b = 16.6).
TEST(KernelGlu, ExtremeGates) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> bs = {-inf, -1000.0f, -150.0f, -104.5f, -104.0f, -103.0f, -100.0f, -89.0f, -88.7f,
                                 -87.0f, -40.0f, -17.0f, 0.0f, 17.0f, 40.0f, 87.0f, 88.0f, 88.7f, 89.0f, 100.0f,
                                 104.5f, 1000.0f, inf};
  const std::vector<float> as = {1.0f, -80.0f, 1000.0f, 1e-3f};
  for (bool ref : {false, true}) {
    set_reference_kernels(ref);
    const int64_t half = static_cast<int64_t>(bs.size() * as.size());
    std::vector<float> x(static_cast<size_t>(2 * half)), g(static_cast<size_t>(half)), y(g.size()), gi(x.size());
    for (size_t i = 0; i < as.size(); ++i)
      for (size_t j = 0; j < bs.size(); ++j) {
        const size_t k = i * bs.size() + j;
        x[k] = as[i];
        x[static_cast<size_t>(half) + k] = bs[j];
        g[k] = 1.7374699f;
      }
    glu_forward(x.data(), y.data(), 1, half, 1);
    glu_backward(g.data(), x.data(), gi.data(), 1, half, 1);
    auto sig = [](long double b) { return 1.0L / (1.0L + std::exp(-b)); };
    auto close = [](float got, long double want) {
      const float w = static_cast<float>(want);
      if (got == w) return true;
      const double ulp = std::nextafter(std::fabs(w), INFINITY) - std::fabs(w);
      return std::fabs(static_cast<double>(got) - static_cast<double>(w)) <= 4 * ulp;
    };
    for (size_t k = 0; k < g.size(); ++k) {
      const long double a = x[k], b = x[static_cast<size_t>(half) + k], gv = g[k];
      const long double s = sig(b), oms = sig(-b);
      EXPECT_TRUE(close(y[k], a * s)) << "ref " << ref << " y a=" << a << " b=" << b << " got " << y[k];
      EXPECT_TRUE(close(gi[k], gv * s)) << "ref " << ref << " ga a=" << a << " b=" << b << " got " << gi[k];
      EXPECT_TRUE(close(gi[static_cast<size_t>(half) + k], gv * a * s * oms))
          << "ref " << ref << " gb a=" << a << " b=" << b << " got " << gi[static_cast<size_t>(half) + k]
          << " want " << static_cast<double>(gv * a * s * oms);
      if (b <= -1000) {
        EXPECT_EQ(y[k], 0.0f);
        EXPECT_EQ(gi[k], 0.0f);
        EXPECT_EQ(gi[static_cast<size_t>(half) + k], 0.0f);
      }
    }
  }
  set_reference_kernels(false);
}

// Softmax-family rows in float against long double: log_softmax within 4 ulp plus the exp error of the
// non-maximal terms (2^-23 (1 - p_max)), softmax within 4 ulp; backward within 4 ulp of the result plus
// 2^-23 |y| (|g| + |sum(g y)|), the rounding of g - sum(g y) that any float evaluation has. inner = 1 runs
// the row kernels; inner > 1 the column kernels (13 and 40: whole vectors and a padded tail on every target;
// dim <= 8 keeps the rows in registers, one compiled block per dim, 9 and up makes three passes).
TEST(KernelSoftmax, FloatAccuracy) {
  for (int64_t inner : {1, 13, 40})
    for (int64_t dim : {1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 256, 1000}) {
      const int64_t outer = inner == 1 ? 16 : 2;
      const size_t n = static_cast<size_t>(outer * dim * inner);
      const auto x = to_float(rand_vec(n, static_cast<uint32_t>(dim + inner) + 100, -4, 4));
      const auto g = to_float(rand_vec(n, static_cast<uint32_t>(dim + inner) + 200, -2, 2));
      auto ulp = [](long double w) {
        const float f = static_cast<float>(std::fabs(w));
        return static_cast<long double>(std::nextafter(f, INFINITY) - f);
      };
      for (SoftmaxKind kind : kKinds) {
        std::vector<float> y(n), gx(n);
        softmax_forward(kind, x.data(), y.data(), outer, dim, inner);
        softmax_backward(kind, g.data(), y.data(), gx.data(), outer, dim, inner);
        const long double sgn = kind == SoftmaxKind::Softmin ? -1 : 1;
        for (int64_t o = 0; o < outer; ++o)
          for (int64_t i = 0; i < inner; ++i) {
            auto at = [&](int64_t k) { return static_cast<size_t>((o * dim + k) * inner + i); };
            long double m = -INFINITY, sum = 0, gs = 0;
            for (int64_t k = 0; k < dim; ++k) m = std::max(m, sgn * x[at(k)]);
            for (int64_t k = 0; k < dim; ++k) sum += std::exp(sgn * x[at(k)] - m);
            for (int64_t k = 0; k < dim; ++k)
              gs += kind == SoftmaxKind::LogSoftmax ? static_cast<long double>(g[at(k)])
                                                    : static_cast<long double>(g[at(k)]) * y[at(k)];
            // The float argument x - m of each exp is rounded (as in PyTorch): 2^-24 |x - m| relative error in
            // that exp, which enters y (softmax) and, weighted by p_j, the sum.
            long double argerr = 0;
            for (int64_t q = 0; q < dim; ++q) {
              const long double vq = sgn * x[at(q)] - m;
              argerr += std::exp(vq) / sum * 0x1p-24L * std::fabs(vq);
            }
            for (int64_t k = 0; k < dim; ++k) {
              const size_t j = at(k);
              const long double v = sgn * x[j] - m;
              const long double want = kind == SoftmaxKind::LogSoftmax ? v - std::log(sum) : std::exp(v) / sum;
              const long double tol = kind == SoftmaxKind::LogSoftmax
                                          ? 4 * ulp(want) + 0x1p-23L * (1 - 1 / sum) + argerr
                                          : 4 * ulp(want) + std::fabs(want) * (0x1p-24L * std::fabs(v) + argerr);
              ASSERT_LE(std::fabs(y[j] - want), tol) << "kind " << static_cast<int>(kind) << " dim " << dim
                                                    << " inner " << inner << " j " << j << " got " << y[j]
                                                    << " want " << static_cast<double>(want);
              long double wg;
              if (kind == SoftmaxKind::LogSoftmax) {
                wg = g[j] - std::exp(static_cast<long double>(y[j])) * gs;
              } else {
                wg = sgn * static_cast<long double>(y[j]) * (g[j] - gs);
              }
              // log_softmax: exp(y) carries ~1 ulp; softmax: g - s rounds (2^-24 (|g| + |s|)) before the product.
              const long double ylj = static_cast<long double>(y[j]);
              const long double gtol =
                  4 * ulp(wg) + (kind == SoftmaxKind::LogSoftmax
                                     ? 0x1p-22L * std::fabs(std::exp(ylj) * gs)
                                     : 0x1p-23L * std::fabs(ylj) *
                                           (std::fabs(static_cast<long double>(g[j])) + std::fabs(gs)));
              ASSERT_LE(std::fabs(gx[j] - wg), gtol)
                  << "backward kind " << static_cast<int>(kind) << " dim " << dim << " inner " << inner << " j " << j
                  << " got " << gx[j] << " want " << static_cast<double>(wg) << " tol " << static_cast<double>(gtol);
            }
          }
      }
    }
}

// A large softmax backward over a strided dim writes gx with streaming stores where a block is aligned; the
// bits must be those of the same slices computed one at a time (each below kStreamElements: plain stores).
// Shapes: rows in registers (dim 4) and in three passes (dim 12); gx aligned, gx one float off (no block
// aligned), and an inner size that is not a whole number of vectors (plain stores for every block).
TEST(KernelSoftmax, StreamedColumnBackwardGivesTheSameBits) {
  set_reference_kernels(false);
  struct Case {
    int64_t dim, inner, shift;
  };
  for (const Case c : {Case{4, 256, 0}, Case{4, 256, 1}, Case{12, 256, 0}, Case{4, 250, 0}}) {
    const int64_t slice = c.dim * c.inner;
    const int64_t outer = internal::kStreamElements / slice + 2;
    const size_t n = static_cast<size_t>(outer * slice);
    const auto x = to_float(rand_vec(n, static_cast<uint32_t>(c.dim + c.inner), -4, 4));
    const auto g = to_float(rand_vec(n, static_cast<uint32_t>(c.dim + c.inner) + 1, -2, 2));
    for (SoftmaxKind kind : kKinds) {
      std::vector<float> y(n), want(n), got(n + 2 * kPad, 7.0f);
      softmax_forward(kind, x.data(), y.data(), outer, c.dim, c.inner);
      for (int64_t o = 0; o < outer; ++o)
        softmax_backward(kind, g.data() + o * slice, y.data() + o * slice, want.data() + o * slice, 1, c.dim, c.inner);
      float* out = aligned(got) + c.shift;
      softmax_backward(kind, g.data(), y.data(), out, outer, c.dim, c.inner);
      for (size_t j = 0; j < n; ++j)
        ASSERT_EQ(std::memcmp(&out[j], &want[j], sizeof(float)), 0)
            << "kind " << static_cast<int>(kind) << " dim " << c.dim << " inner " << c.inner << " shift " << c.shift
            << " j " << j << ": " << out[j] << " vs " << want[j];
      for (float* p = got.data(); p < out; ++p) ASSERT_EQ(*p, 7.0f);
      ASSERT_EQ(out[n], 7.0f);
    }
  }
}

TEST(KernelPrelu, MatchesLoops) {
  // The last two shapes are large enough for streaming stores (one slope: aligned 16384-element blocks; one
  // per channel: rows that start off a vector boundary).
  for (const Shape& s : {Shape{1, 1, 5}, Shape{2, 3, 4}, Shape{4, 16, 1000}, Shape{2, 1, 40000},
                         Shape{1, 1, internal::kStreamElements + 40}, Shape{1, 2, internal::kStreamElements / 2 + 8}}) {
    const size_t n = static_cast<size_t>(s.outer * s.dim * s.inner);
    const auto xd = rand_vec(n, 7), gd = rand_vec(n, 8, -1, 1), ad = rand_vec(static_cast<size_t>(s.dim), 9, -1, 1);
    const auto x = to_float(xd), g = to_float(gd), a = to_float(ad);
    std::vector<float> y_buf(n + kPad), gi_buf(n + kPad), gs(static_cast<size_t>(s.dim), 123.0f);
    float* y = aligned(y_buf);  // outputs on a cache line, as the allocator's: the streamed path is taken
    float* gi = aligned(gi_buf);
    std::vector<double> want_gs(static_cast<size_t>(s.dim), 0.0);
    prelu_forward(x.data(), a.data(), y, s.outer, s.dim, s.inner);
    prelu_backward(g.data(), x.data(), a.data(), gi, gs.data(), s.outer, s.dim, s.inner);
    std::vector<double> yd(n), gid(n), gsd(static_cast<size_t>(s.dim), 5.0);
    prelu_forward(xd.data(), ad.data(), yd.data(), s.outer, s.dim, s.inner);
    prelu_backward(gd.data(), xd.data(), ad.data(), gid.data(), gsd.data(), s.outer, s.dim, s.inner);
    for (int64_t o = 0; o < s.outer; ++o)
      for (int64_t c = 0; c < s.dim; ++c)
        for (int64_t i = 0; i < s.inner; ++i) {
          const size_t j = static_cast<size_t>((o * s.dim + c) * s.inner + i);
          const float wy = x[j] > 0 ? x[j] : a[c] * x[j];
          const float wg = x[j] > 0 ? g[j] : a[c] * g[j];
          ASSERT_EQ(y[j], wy);
          ASSERT_EQ(gi[j], wg);
          ASSERT_EQ(yd[j], xd[j] > 0 ? xd[j] : ad[c] * xd[j]);
          want_gs[c] += x[j] > 0 ? 0.0 : xd[j] * gd[j];
        }
    for (int64_t c = 0; c < s.dim; ++c) {
      EXPECT_NEAR(gs[c], want_gs[c], 1e-6 * (1 + std::fabs(want_gs[c])));  // overwritten, not accumulated
      EXPECT_NEAR(gsd[c], want_gs[c], 1e-9 * (1 + std::fabs(want_gs[c])));
    }
  }
}

// RReLU in training: SIMD and scalar paths give the same bits, whatever the thread count; the slopes are
// uniform on [lower, upper); the recording forward's noise is dy/dx, and the backward multiplies by it.
TEST(KernelRrelu, SimdMatchesScalarAndThreads) {
  const RreluNoise nz{0x0123456789abcdefULL, 0.125f, static_cast<float>(1.0 / 3 - 0.125)};
  for (int64_t n : {1, 7, 8, 9, 31, 64, 100, 40000, 100001}) {
    auto x = to_float(rand_vec(static_cast<size_t>(n), static_cast<uint32_t>(n), -3, 3));
    if (n > 9) {
      x[3] = std::numeric_limits<float>::quiet_NaN();
      x[4] = -0.0f;
      x[5] = -std::numeric_limits<float>::infinity();
    }
    const auto g = to_float(rand_vec(static_cast<size_t>(n), static_cast<uint32_t>(n) + 1, -1, 1));
    std::vector<float> y_ref(x.size()), noise_ref(x.size()), gi_ref(x.size());
    set_reference_kernels(true);
    rrelu_forward(nz, x.data(), y_ref.data(), n, noise_ref.data());
    rrelu_backward(g.data(), noise_ref.data(), gi_ref.data(), n);
    set_reference_kernels(false);
    for (int threads : {1, 2}) {
      const int saved = omp_get_max_threads();
      omp_set_num_threads(threads);
      std::vector<float> y(x.size()), y2(x.size()), noise(x.size()), gi(x.size()), yi(x), gg(g);
      rrelu_forward(nz, x.data(), y.data(), n);
      rrelu_forward(nz, x.data(), y2.data(), n, noise.data());
      rrelu_backward(g.data(), noise.data(), gi.data(), n);
      rrelu_backward(gg.data(), noise.data(), gg.data(), n);  // in place
      rrelu_forward(nz, yi.data(), yi.data(), n);  // in place
      omp_set_num_threads(saved);
      for (size_t i = 0; i < x.size(); ++i) {
        const float slope = rrelu_slope(nz, i);
        const float want_y = x[i] <= 0 ? x[i] * slope : x[i];
        const float want_g = x[i] <= 0 ? g[i] * slope : g[i];
        const float want_noise = x[i] <= 0 ? slope : 1.0f;
        ASSERT_EQ(std::memcmp(&y[i], &y_ref[i], 4), 0) << "n " << n << " i " << i << " threads " << threads;
        ASSERT_EQ(std::memcmp(&y2[i], &y_ref[i], 4), 0) << "with noise, i " << i;
        ASSERT_EQ(std::memcmp(&yi[i], &y_ref[i], 4), 0) << "in place, i " << i;
        ASSERT_EQ(noise[i], want_noise) << "i " << i;
        ASSERT_EQ(noise_ref[i], want_noise) << "reference, i " << i;
        ASSERT_EQ(std::memcmp(&gi[i], &gi_ref[i], 4), 0) << "backward, i " << i;
        ASSERT_EQ(std::memcmp(&gg[i], &gi_ref[i], 4), 0) << "backward in place, i " << i;
        if (std::isnan(x[i])) {
          ASSERT_TRUE(std::isnan(y[i]));
          ASSERT_EQ(gi[i], g[i]);
        } else {
          ASSERT_EQ(std::memcmp(&y[i], &want_y, 4), 0) << "i " << i;
          ASSERT_EQ(gi[i], want_g);
        }
      }
    }
  }
}

TEST(KernelRrelu, SlopesAreUniformAndKeyed) {
  const int64_t n = 200000;
  const std::vector<float> x(static_cast<size_t>(n), -1.0f), ones(static_cast<size_t>(n), 1.0f);
  std::vector<float> y(x.size()), y2(x.size()), noise(x.size()), gi(x.size());
  const float lower = 0.125f, upper = 1.0f / 3;
  const RreluNoise nz{42, lower, upper - lower}, nz2{43, lower, upper - lower};
  rrelu_forward(nz, x.data(), y.data(), n, noise.data());
  rrelu_forward(nz2, x.data(), y2.data(), n);
  rrelu_backward(ones.data(), noise.data(), gi.data(), n);
  constexpr int kBins = 16;
  std::vector<double> count(kBins, 0);
  double mean = 0;
  int64_t same = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const float slope = -y[i];
    ASSERT_GE(slope, lower);
    ASSERT_LE(slope, upper);
    ASSERT_EQ(gi[i], slope);  // the backward's slope is the forward's
    mean += slope / static_cast<double>(n);
    same += y[i] == y2[i];
    const int bin = std::min(kBins - 1, static_cast<int>((slope - lower) / (upper - lower) * kBins));
    count[static_cast<size_t>(bin)] += 1;
  }
  EXPECT_NEAR(mean, (lower + upper) / 2, 0.002);
  double chi2 = 0;
  for (double c : count) chi2 += (c - n / double(kBins)) * (c - n / double(kBins)) / (n / double(kBins));
  EXPECT_LT(chi2, 37.7);  // 15 degrees of freedom, p = 0.001
  EXPECT_LT(same, n / 1000);  // another key, other slopes
}

}  // namespace
}  // namespace actlab::kernels
