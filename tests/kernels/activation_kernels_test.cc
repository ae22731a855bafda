// SIMD activation kernels against the scalar double reference of the activation table.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/activation_kernels.h"
#include "kernels/simd.h"

namespace actlab::kernels {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// ULP distance; NaN == NaN, inf == inf and -0 == +0 count as equal.
int64_t ulp_distance(float a, float b) {
  if (std::isnan(a) && std::isnan(b)) return 0;
  if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<int64_t>::max();
  if (a == b) return 0;
  auto ordered = [](float f) {
    const int32_t i = std::bit_cast<int32_t>(f);
    return i < 0 ? static_cast<int64_t>(std::numeric_limits<int32_t>::min()) - i : static_cast<int64_t>(i);
  };
  const int64_t d = ordered(a) - ordered(b);
  return d < 0 ? -d : d;
}

TEST(KernelUlp, DistanceHelper) {
  EXPECT_EQ(ulp_distance(0.0f, -0.0f), 0);
  EXPECT_EQ(ulp_distance(kNaN, kNaN), 0);
  EXPECT_EQ(ulp_distance(kInf, kInf), 0);
  EXPECT_EQ(ulp_distance(1.0f, std::nextafter(1.0f, 2.0f)), 1);
  EXPECT_EQ(ulp_distance(std::numeric_limits<float>::denorm_min(), -std::numeric_limits<float>::denorm_min()), 2);
  EXPECT_GT(ulp_distance(1.0f, kNaN), 1000);
  EXPECT_GT(ulp_distance(-kInf, kInf), 1000);
}

struct Case {
  ActId id;
  ParamValues p;
  std::string label;
};

ParamValues defaults(ActId id) {
  const auto& row = activation_row(id);
  ParamValues p{};
  for (int i = 0; i < row.num_params; ++i) p[i] = row.params[i].default_value;
  return p;
}

std::vector<Case> all_cases() {
  std::vector<Case> cases;
  for (int i = 0; i < kNumPointwise; ++i) {
    const ActId id = static_cast<ActId>(i);
    const std::string name(activation_row(id).name);
    if (id == ActId::Threshold) continue;  // no defaults
    cases.push_back({id, defaults(id), name});
  }
  auto add = [&](ActId id, ParamValues p, std::string label) { cases.push_back({id, p, std::move(label)}); };
  add(ActId::LeakyReLU, {0.2, 0, 0}, "LeakyReLU(0.2)");
  add(ActId::LeakyReLU, {-0.5, 0, 0}, "LeakyReLU(-0.5)");
  add(ActId::ELU, {0.5, 0, 0}, "ELU(0.5)");
  add(ActId::ELU, {2.0, 0, 0}, "ELU(2)");
  add(ActId::CELU, {0.5, 0, 0}, "CELU(0.5)");
  add(ActId::CELU, {2.0, 0, 0}, "CELU(2)");
  add(ActId::GELU, {1.0, 0, 0}, "GELU(tanh)");
  add(ActId::Softplus, {2.0, 10.0, 0}, "Softplus(2,10)");
  add(ActId::Softplus, {0.5, 20.0, 0}, "Softplus(0.5,20)");
  add(ActId::Softshrink, {0.3, 0, 0}, "Softshrink(0.3)");
  add(ActId::Hardshrink, {0.3, 0, 0}, "Hardshrink(0.3)");
  add(ActId::Hardshrink, {-0.3, 0, 0}, "Hardshrink(-0.3)");  // PyTorch allows it: y = x, dy/dx = 1
  add(ActId::Hardtanh, {-2.0, 3.0, 0}, "Hardtanh(-2,3)");
  add(ActId::Hardtanh, {-0.1, 0.7, 0}, "Hardtanh(-0.1,0.7)");
  add(ActId::Threshold, {0.1, 20.0, 0}, "Threshold(0.1,20)");
  add(ActId::Threshold, {-1.0, -3.5, 0}, "Threshold(-1,-3.5)");
  return cases;
}

// Inputs: special values, the row's kinks, and random values in several ranges.
std::vector<float> special_values(const Case& c) {
  std::vector<float> v = {0.0f, -0.0f, kInf, -kInf, kNaN, -kNaN, 1.0f, -1.0f, 2.0f, -2.0f, 3.0f, -3.0f, 6.0f, -6.0f,
                          1.5f, -1.5f, 0.5f, -0.5f, 9.0f, -9.0f, 20.0f, -20.0f, 88.7f, -88.7f, 89.0f, -89.0f,
                          100.0f, -100.0f, 104.5f, -104.5f, 1e30f, -1e30f, 3e38f, -3e38f,
                          std::numeric_limits<float>::max(), -std::numeric_limits<float>::max(),
                          std::numeric_limits<float>::min(), -std::numeric_limits<float>::min(),
                          std::numeric_limits<float>::denorm_min(), -std::numeric_limits<float>::denorm_min(),
                          1e-40f, -1e-40f, 1e-20f, -1e-20f, 1e-7f, -1e-7f, 0.75f, -0.75f, -0.7518f, -1.278f, -1.19f,
                          -5.5f, -13.6f, 13.6f};
  for (int i = 0; i < kMaxParams; ++i) {
    const float f = static_cast<float>(c.p[i]);
    for (float x : {f, -f, std::nextafter(f, kInf), std::nextafter(f, -kInf), std::nextafter(-f, kInf),
                    std::nextafter(-f, -kInf)})
      v.push_back(x);
  }
  return v;
}

std::vector<float> make_inputs(const Case& c, int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  const auto specials = special_values(c);
  std::uniform_real_distribution<float> u10(-10.0f, 10.0f), u100(-100.0f, 100.0f), u1(-1.0f, 1.0f);
  std::uniform_int_distribution<int> kind(0, 9);
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    float v;
    switch (kind(rng)) {
      case 0: v = specials[rng() % specials.size()]; break;
      case 1: v = u100(rng); break;
      case 2: v = u1(rng) * 1e-38f; break;        // tiny, subnormal
      case 3: v = u1(rng) * 1e30f; break;         // huge
      case 4: v = u1(rng); break;
      case 5: v = std::ldexp(u1(rng), static_cast<int>(rng() % 60) - 40); break;  // all scales
      default: v = u10(rng); break;
    }
    // Sizes below the pool size still see specials in every position.
    if (n < 200 && (i % 3 == 0)) v = specials[(static_cast<size_t>(i) + seed) % specials.size()];
    x[static_cast<size_t>(i)] = v;
  }
  return x;
}

std::vector<float> make_grads(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed * 7 + 1);
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  std::vector<float> g(static_cast<size_t>(n));
  // No +-inf: inf times a derivative that underflows in float is NaN where the double reference, whose
  // derivative does not underflow, gives inf.
  const float specials[] = {0.0f, -0.0f, 1.0f, kNaN, 1e30f, -1e-40f};
  for (int64_t i = 0; i < n; ++i) g[static_cast<size_t>(i)] = (rng() % 16 == 0) ? specials[rng() % 6] : u(rng);
  return g;
}

constexpr int64_t kUlpTol = 4;
constexpr double kSub = 1.401298464324817e-45;  // 2^-149, the subnormal quantum
constexpr double kEps = 5.9604644775390625e-08;  // 2^-24

// Absolute error allowed on top of the ulp tolerance, per row; see the comment at each line.
double abs_floor(const Case& c, bool backward, double x, double g) {
  const double ag = backward ? std::fabs(g) : 1.0;
  const double ax = std::fabs(x);
  // Where exp() underflows into the subnormal range (x below about -87) its quantum 2^-149 is multiplied
  // by x or g; relative precision there is that of a subnormal, not 24 bits.
  double f = 16 * kSub * (1 + ax) * (1 + ag);
  switch (c.id) {
    case ActId::Tanhshrink:
      // x - tanh(x) cancels near 0 (as in PyTorch's composite): the ulp of x, not of the result.
      // Backward: the reference's g - g (1 - t^2) cancels in double near 0 (the kernel computes g t^2).
      f += backward ? ag * 2 * kEps * kEps : 4 * kEps * ax;
      break;
    case ActId::GELU:
      if (c.p[0] != 0) {
        // tanh: the reference itself (double 1 + tanh(u)) and PyTorch's float (1 + tanh(u)) cancel for
        // x < 0; PyTorch's error is |x| 2^-24, the double reference's tends to 0 * x below x = -5.6.
        f += backward ? ag * 2 * kEps * (1 + 2 * scalar::kGeluBeta * ax * (1 + 3 * scalar::kGeluKappa * x * x))
                      : kEps * ax;
      } else {
        // The reference's 1 + erf(x/sqrt(2)) cancels in double for x < 0 (it is exactly 0 below -8.3):
        // its own error is |x| 2^-53; the kernel uses erfc and stays accurate there.
        f += ag * (1 + ax) * 2 * kEps * kEps * 0.5;
        // cdf(x) + x pdf(x) crosses zero at x = -0.7518: the sum of two ~0.2 terms cancels.
        if (backward) f += ag * 4 * kEps;
      }
      break;
    case ActId::SiLU:
      // s (1 + x (1 - s)) crosses zero at x = -1.2785.
      if (backward) f += ag * 4 * kEps;
      break;
    case ActId::Mish:
      // t + x sigmoid(x) (1 - t^2) crosses zero at x = -1.1924.
      if (backward) f += ag * 4 * kEps;
      break;
    case ActId::Softsign:
      // The reference g/b - g|x|/b^2 cancels in double for large |x|.
      if (backward) f += ag * 4 * 2.220446049250313e-16 / (1 + ax);
      break;
    case ActId::Softplus:
      // A beta that is not a power of two makes beta * x a rounded product in float (as in PyTorch),
      // worth |beta x| ulp of softplus for beta x < 0.
      if (c.p[0] != std::ldexp(1.0, std::ilogb(c.p[0])))
        f += (backward ? ag : 1.0) * 2 * kEps * std::fabs(c.p[0] * x) *
             std::log1p(std::exp(-std::fabs(c.p[0] * x))) / c.p[0];
      break;
    default: break;
  }
  return f;
}

struct Mismatch {
  int count = 0;
  int64_t max_ulp = 0;  // over the elements within the ulp tolerance
  std::string first;
};

void compare(const Case& c, bool backward, const std::vector<float>& x, const std::vector<float>& g,
             const std::vector<float>& got, const std::vector<float>& want, Mismatch& mm) {
  for (size_t i = 0; i < got.size(); ++i) {
    const int64_t u = ulp_distance(got[i], want[i]);
    // Tanhshrink backward is g * t * t: tanh's ~2 ulp enter twice (PyTorch's composite g - g (1 - t^2)
    // cancels and is far worse near 0).
    const int64_t tol = (backward && c.id == ActId::Tanhshrink) ? 6 : kUlpTol;
    if (u > kUlpTol && u <= tol) continue;
    if (u <= kUlpTol) {
      mm.max_ulp = std::max(mm.max_ulp, u);
      continue;
    }
    const double diff = std::fabs(static_cast<double>(got[i]) - static_cast<double>(want[i]));
    const bool finite_both = std::isfinite(got[i]) && std::isfinite(want[i]);
    if (finite_both && diff <= abs_floor(c, backward, x[i], backward ? g[i] : 0.0)) continue;
    if (mm.count++ < 8) {
      std::ostringstream os;
      os.precision(9);
      os << "  " << c.label << (backward ? " backward" : " forward") << " x=" << x[i];
      if (backward) os << " g=" << g[i];
      os << " got=" << got[i] << " want=" << want[i] << " ulp=" << u << "\n";
      mm.first += os.str();
    }
  }
}

const int64_t kSizes[] = {0, 1, 3, 7, 8, 15, 16, 17, 31, 33, 64, 100, 1000, 100003};

bool saves_output(ActId id) {
  const auto& row = activation_row(id);
  return row.saves == Saves::Output || row.inplace_saves == InplaceSaves::Output;
}
// The kernels' backward from the input (a Buffer row's op saves its buffer, but its kernel takes x as well).
bool saves_input(ActId id) { return activation_row(id).saves == Saves::Input || activation_row(id).saves == Saves::Buffer; }

TEST(KernelActivation, ExactlyThePointwiseRowsHaveScalarFunctions) {
  for (int i = 0; i < kernels::kNumActivations; ++i) {
    const auto& row = kernels::kActivationTable[i];
    EXPECT_EQ(row.forward != nullptr, i < kernels::kNumPointwise) << row.name;
    EXPECT_EQ(row.backward != nullptr, i < kernels::kNumPointwise) << row.name;
  }
}

TEST(KernelActivation, ForwardMatchesReference) {
  set_reference_kernels(false);
  for (const Case& c : all_cases()) {
    Mismatch mm;
    for (int64_t n : kSizes) {
      const auto x = make_inputs(c, n, static_cast<uint32_t>(n) + 17);
      std::vector<float> got(x.size()), want(x.size());
      act_forward(c.id, c.p, x.data(), got.data(), n);
      act_forward_reference(c.id, c.p, x.data(), want.data(), n);
      compare(c, false, x, {}, got, want, mm);
    }
    EXPECT_EQ(mm.count, 0) << c.label << " forward mismatches:\n" << mm.first;
    if (std::getenv("ACTLAB_PRINT_ULP")) std::printf("max ulp %-22s forward  %lld\n", c.label.c_str(), static_cast<long long>(mm.max_ulp));
  }
}

TEST(KernelActivation, BackwardMatchesReference) {
  set_reference_kernels(false);
  for (const Case& c : all_cases()) {
    for (bool from_output : {false, true}) {
      if (from_output ? !saves_output(c.id) : !saves_input(c.id)) continue;
      Mismatch mm;
      for (int64_t n : kSizes) {
        const auto x = make_inputs(c, n, static_cast<uint32_t>(n) + 99);
        const auto g = make_grads(n, static_cast<uint32_t>(n));
        std::vector<float> saved = x;
        if (from_output) act_forward_reference(c.id, c.p, x.data(), saved.data(), n);
        std::vector<float> got(x.size()), want(x.size());
        act_backward(c.id, c.p, from_output, g.data(), saved.data(), got.data(), n);
        act_backward_reference(c.id, c.p, from_output, g.data(), saved.data(), want.data(), n);
        compare(c, true, saved, g, got, want, mm);
      }
      EXPECT_EQ(mm.count, 0) << c.label << (from_output ? " (from output)" : " (from input)")
                             << " backward mismatches:\n" << mm.first;
      if (std::getenv("ACTLAB_PRINT_ULP"))
        std::printf("max ulp %-22s backward%s %lld\n", c.label.c_str(), from_output ? "(y)" : "(x)",
                    static_cast<long long>(mm.max_ulp));
    }
  }
}

// Dense sweep of [-12, 12] and of the exponent range, where the accuracy-critical regions are.
TEST(KernelActivation, DenseSweep) {
  set_reference_kernels(false);
  std::vector<float> x;
  for (float v = -12.0f; v <= 12.0f; v += 1.0f / 1024) x.push_back(v);
  for (int e = -149; e <= 127; ++e)
    for (float m : {1.0f, 1.25f, 1.7f}) {
      x.push_back(std::ldexp(m, e));
      x.push_back(-std::ldexp(m, e));
    }
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<float> g(x.size(), 1.0f);
  for (size_t i = 0; i < g.size(); i += 3) g[i] = -0.625f;
  for (const Case& c : all_cases()) {
    Mismatch mm;
    std::vector<float> got(x.size()), want(x.size());
    act_forward(c.id, c.p, x.data(), got.data(), n);
    act_forward_reference(c.id, c.p, x.data(), want.data(), n);
    compare(c, false, x, {}, got, want, mm);
    for (bool from_output : {false, true}) {
      if (from_output ? !saves_output(c.id) : !saves_input(c.id)) continue;
      std::vector<float> saved = x;
      if (from_output) act_forward_reference(c.id, c.p, x.data(), saved.data(), n);
      act_backward(c.id, c.p, from_output, g.data(), saved.data(), got.data(), n);
      act_backward_reference(c.id, c.p, from_output, g.data(), saved.data(), want.data(), n);
      compare(c, true, saved, g, got, want, mm);
    }
    EXPECT_EQ(mm.count, 0) << c.label << " mismatches:\n" << mm.first;
  }
}

// The documented kinks and limits, exactly.
TEST(KernelActivation, KinksAndLimits) {
  set_reference_kernels(false);
  auto fwd = [](ActId id, ParamValues p, float x) {
    float y;
    act_forward(id, p, &x, &y, 1);
    return y;
  };
  auto bwd = [](ActId id, ParamValues p, float s, bool out = false) {
    float g = 1.0f, r;
    act_backward(id, p, out, &g, &s, &r, 1);
    return r;
  };
  const ParamValues none{};
  EXPECT_TRUE(std::isnan(fwd(ActId::ReLU, none, kNaN)));
  EXPECT_EQ(bwd(ActId::ReLU, none, 0.0f, true), 0.0f);
  EXPECT_EQ(bwd(ActId::LeakyReLU, {0.01, 0, 0}, 0.0f), 0.01f);
  EXPECT_EQ(bwd(ActId::ELU, {1.0, 0, 0}, 0.0f), 1.0f);
  EXPECT_EQ(bwd(ActId::Hardtanh, {-1, 1, 0}, -1.0f), 0.0f);
  EXPECT_EQ(bwd(ActId::Hardtanh, {-1, 1, 0}, 1.0f), 0.0f);
  EXPECT_EQ(bwd(ActId::Hardswish, none, 3.0f), 1.0f);
  EXPECT_EQ(bwd(ActId::Hardswish, none, -3.0f), -0.5f);  // as measured in PyTorch 1.13.1 (see the table)
  EXPECT_EQ(bwd(ActId::Hardtanh, {-1, 1, 0}, kNaN), 0.0f);
  EXPECT_EQ(fwd(ActId::Softshrink, {0.5, 0, 0}, kNaN), 0.0f);
  EXPECT_TRUE(std::signbit(fwd(ActId::ReLU, none, -0.0f)));
  for (ActId id : {ActId::Sigmoid, ActId::SiLU, ActId::Mish, ActId::Tanh, ActId::GELU, ActId::Softplus,
                   ActId::LogSigmoid, ActId::ELU, ActId::SELU}) {
    const ParamValues p = defaults(id);
    for (float x : {100.0f, -100.0f, 1000.0f, -1000.0f}) {
      const float want = static_cast<float>(activation_row(id).forward(x, p));
      EXPECT_LE(ulp_distance(fwd(id, p, x), want), kUlpTol) << activation_row(id).name << "(" << x << ")";
    }
    for (float x : {kInf, -kInf}) {
      const float want = static_cast<float>(activation_row(id).forward(x, p));
      EXPECT_EQ(ulp_distance(fwd(id, p, x), want), 0) << activation_row(id).name << "(" << x << ")";
    }
  }
  EXPECT_EQ(fwd(ActId::Sigmoid, none, -kInf), 0.0f);
  EXPECT_EQ(fwd(ActId::Sigmoid, none, kInf), 1.0f);
  EXPECT_EQ(fwd(ActId::Mish, none, kInf), kInf);
  EXPECT_TRUE(std::isnan(fwd(ActId::Mish, none, -kInf)));  // -inf * tanh(0), as the table
  EXPECT_LE(ulp_distance(fwd(ActId::SiLU, none, -100.0f), static_cast<float>(-100.0 * scalar::sigmoid(-100.0))), 1);
}

// Tanhshrink against x - tanh(x) in extended precision (the table's double x - tanh(x) itself cancels near
// 0): both the SIMD kernel and PyTorch's composite float x - tanh(x) are compared, forward within 2 ulp
// (PyTorch's composite is off by up to 6 ulp near 0.5 and gives 0 for x = 1e-7), backward g tanh(x)^2
// within 4 ulp.
long double tanhshrink_ld(long double x) {
  const long double a = std::fabs(x);
  if (a < 1e-3L) {  // series: x^3/3 - 2x^5/15 + 17x^7/315 - 62x^9/2835
    const long double t = x * x;
    return x * t * (1.0L / 3 + t * (-2.0L / 15 + t * (17.0L / 315 - t * 62.0L / 2835)));
  }
  return x - std::tanh(x);
}
TEST(KernelActivation, TanhshrinkAccurateNearZero) {
  set_reference_kernels(false);
  std::mt19937 rng(77);
  std::vector<float> x;
  for (int e = -40; e <= 4; ++e)
    for (int k = 0; k < 200; ++k) x.push_back(std::ldexp(std::uniform_real_distribution<float>(1, 2)(rng), e));
  for (float v : {1e-7f, 0.5f, 0.99999994f, 1.0f, 1.0000001f, 0.149f, 2.0f, 9.0f, 20.0f}) x.push_back(v);
  const size_t n0 = x.size();
  for (size_t i = 0; i < n0; ++i) x.push_back(-x[i]);
  const auto n = static_cast<int64_t>(x.size());
  std::vector<float> y(x.size()), g(x.size(), 1.5f), gi(x.size());
  const ParamValues none{};
  act_forward(ActId::Tanhshrink, none, x.data(), y.data(), n);
  act_backward(ActId::Tanhshrink, none, false, g.data(), x.data(), gi.data(), n);
  int64_t worst_f = 0, worst_b = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const float want = static_cast<float>(tanhshrink_ld(x[i]));
    const long double t = std::tanh(static_cast<long double>(x[i]));
    const float want_g = static_cast<float>(1.5L * t * t);
    const int64_t uf = ulp_distance(y[i], want), ub = ulp_distance(gi[i], want_g);
    worst_f = std::max(worst_f, uf);
    worst_b = std::max(worst_b, ub);
    ASSERT_LE(uf, 2) << "forward x=" << x[i] << " got " << y[i] << " want " << want;
    ASSERT_LE(ub, 4) << "backward x=" << x[i] << " got " << gi[i] << " want " << want_g;
  }
  if (std::getenv("ACTLAB_PRINT_ULP")) std::printf("Tanhshrink vs long double: forward %lld, backward %lld ulp\n",
                                                  static_cast<long long>(worst_f), static_cast<long long>(worst_b));
}

// Very negative and very positive arguments of the exponentials: correctly rounded tiny, subnormal and
// zero results (no clamped exp leaking 2^-126-sized values), for every row built on exp.
TEST(KernelActivation, ExpTailsUnderflowCorrectly) {
  set_reference_kernels(false);
  std::vector<float> x;
  for (float v : {80.0f, 87.0f, 87.5f, 88.0f, 88.7f, 88.72f, 88.8f, 89.0f, 90.0f, 95.0f, 100.0f, 103.0f, 103.9f,
                  104.0f, 104.5f, 110.0f, 120.0f, 150.0f, 1000.0f, 1e6f, 3e38f, kInf}) {
    x.push_back(v);
    x.push_back(-v);
  }
  const auto n = static_cast<int64_t>(x.size());
  for (ActId id : {ActId::Sigmoid, ActId::SiLU, ActId::Mish, ActId::Softplus, ActId::LogSigmoid, ActId::ELU,
                   ActId::SELU, ActId::Tanh, ActId::Tanhshrink, ActId::GELU}) {
    const ParamValues p = defaults(id);
    std::vector<float> y(x.size()), g(x.size(), 1.0f), gi(x.size());
    act_forward(id, p, x.data(), y.data(), n);
    act_backward(id, p, false, g.data(), x.data(), gi.data(), n);
    const bool from_output = activation_row(id).saves == Saves::Output;
    std::vector<float> yref(x.size());
    act_forward_reference(id, p, x.data(), yref.data(), n);
    if (from_output) act_backward(id, p, true, g.data(), yref.data(), gi.data(), n);
    for (size_t i = 0; i < x.size(); ++i) {
      const float want = yref[i];
      const float want_g = static_cast<float>(
          activation_row(id).backward(1.0, from_output ? static_cast<double>(yref[i]) : x[i], from_output, p));
      // 4 ulp, or where the result is subnormal the subnormal quantum of exp times |x| (as abs_floor): SiLU'
      // and Mish' there are e^x (1 + x), a subnormal e^x scaled up by |1 + x|.
      const double sub_floor = 16 * kSub * (1 + std::fabs(static_cast<double>(x[i]))) * 2;
      EXPECT_TRUE(ulp_distance(y[i], want) <= kUlpTol ||
                  std::fabs(y[i] - want) <= sub_floor)
          << activation_row(id).name << " forward x=" << x[i] << " got " << y[i] << " want " << want;
      EXPECT_TRUE(ulp_distance(gi[i], want_g) <= kUlpTol ||
                  std::fabs(gi[i] - want_g) <= sub_floor)
          << activation_row(id).name << " backward x=" << x[i] << " got " << gi[i] << " want " << want_g;
    }
  }
}

TEST(KernelActivation, InPlaceAliasing) {
  set_reference_kernels(false);
  for (const Case& c : all_cases()) {
    for (int64_t n : {int64_t{33}, int64_t{100003}}) {
      const auto x = make_inputs(c, n, 5);
      const auto g = make_grads(n, 6);
      std::vector<float> out(x.size()), buf = x;
      act_forward(c.id, c.p, x.data(), out.data(), n);
      act_forward(c.id, c.p, buf.data(), buf.data(), n);
      for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(ulp_distance(out[i], buf[i]), 0) << c.label << " i=" << i;
      const bool from_output = !saves_input(c.id);
      const std::vector<float>& saved = from_output ? out : x;
      std::vector<float> gi(x.size()), gbuf = g;
      act_backward(c.id, c.p, from_output, g.data(), saved.data(), gi.data(), n);
      act_backward(c.id, c.p, from_output, gbuf.data(), saved.data(), gbuf.data(), n);
      for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(ulp_distance(gi[i], gbuf[i]), 0) << c.label << " i=" << i;
      // y aliases x in the backward from the output, as after an in-place forward.
      if (from_output) {
        std::vector<float> s2 = out;
        act_backward(c.id, c.p, true, g.data(), s2.data(), s2.data(), n);
        for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(ulp_distance(gi[i], s2[i]), 0) << c.label;
      }
    }
  }
}

// Outputs of kStreamElements and more are written with streaming stores from the first aligned vector on:
// the same bits as the same op run in pieces below that size, at every misalignment of the output, in
// place too.
TEST(KernelActivation, StreamingStoresGiveTheSameBits) {
  set_reference_kernels(false);
  const int64_t n = internal::kStreamElements + 21;
  for (const Case& c : all_cases()) {
    if (c.id != ActId::Sigmoid && c.id != ActId::ReLU && c.id != ActId::GELU) continue;
    const auto x = make_inputs(c, n, 7);
    const auto g = make_grads(n, 8);
    std::vector<float> want(x.size()), want_g(x.size());
    for (int64_t b = 0; b < n; b += 1 << 20) {
      const int64_t len = std::min<int64_t>(1 << 20, n - b);
      act_forward(c.id, c.p, x.data() + b, want.data() + b, len);
      act_backward(c.id, c.p, false, g.data() + b, x.data() + b, want_g.data() + b, len);
    }
    for (int64_t shift : {0, 1, 5}) {
      std::vector<float> out(x.size() + 8), gi(x.size() + 8), inplace(x.size() + 8);
      act_forward(c.id, c.p, x.data(), out.data() + shift, n);
      act_backward(c.id, c.p, false, g.data(), x.data(), gi.data() + shift, n);
      std::copy(x.begin(), x.end(), inplace.begin() + shift);
      act_forward(c.id, c.p, inplace.data() + shift, inplace.data() + shift, n);
      for (int64_t i = 0; i < n; ++i) {
        ASSERT_EQ(ulp_distance(out[i + shift], want[i]), 0) << c.label << " shift " << shift << " i=" << i;
        ASSERT_EQ(ulp_distance(inplace[i + shift], want[i]), 0) << c.label << " in place, i=" << i;
        ASSERT_EQ(ulp_distance(gi[i + shift], want_g[i]), 0) << c.label << " backward, i=" << i;
      }
    }
  }
}

TEST(KernelActivation, DoubleRunsTheTable) {
  for (const Case& c : all_cases()) {
    const auto xf = make_inputs(c, 40000, 3);
    std::vector<double> x(xf.begin(), xf.end()), y(x.size()), g(x.size(), 0.75), gi(x.size());
    for (size_t i = 0; i < x.size(); ++i) x[i] *= 1.0 + 1e-12;  // not float-representable
    act_forward(c.id, c.p, x.data(), y.data(), static_cast<int64_t>(x.size()));
    act_backward(c.id, c.p, false, g.data(), x.data(), gi.data(), static_cast<int64_t>(x.size()));
    const auto& row = activation_row(c.id);
    for (size_t i = 0; i < x.size(); ++i) {
      const double wy = row.forward(x[i], c.p), wg = row.backward(0.75, x[i], false, c.p);
      ASSERT_TRUE((std::isnan(wy) && std::isnan(y[i])) || wy == y[i]) << c.label;
      ASSERT_TRUE((std::isnan(wg) && std::isnan(gi[i])) || wg == gi[i]) << c.label;
    }
  }
}

TEST(KernelControl, ReferenceSwitch) {
  set_reference_kernels(false);
  const std::string target = simd_target();
  EXPECT_FALSE(target.empty());
  EXPECT_NE(target, "scalar reference");
  set_reference_kernels(true);
  EXPECT_TRUE(reference_kernels());
  EXPECT_EQ(simd_target(), "scalar reference");
  const Case c{ActId::GELU, {0, 0, 0}, "GELU"};
  const auto x = make_inputs(c, 1000, 9);
  std::vector<float> got(x.size()), want(x.size());
  act_forward(c.id, c.p, x.data(), got.data(), 1000);
  act_forward_reference(c.id, c.p, x.data(), want.data(), 1000);
  for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(ulp_distance(got[i], want[i]), 0);
  set_reference_kernels(false);
  EXPECT_FALSE(reference_kernels());
  EXPECT_EQ(simd_target(), target);
}

}  // namespace
}  // namespace actlab::kernels


namespace actlab::kernels {
namespace {
// The recording forward of the Buffer rows: y is act_forward's, the buffer is saved_buffer(id, x) to 4 ulp, and
// the backward from the buffer is accurate: Tanhshrink's g t^2 gives the same bits as the backward that
// recomputes tanh from x; LogSigmoid's g * buffer is one rounding of an exact product (the same bits as the
// reference's double product), within 4 ulp of the exact derivative from x.
TEST(KernelActivation, ForwardWithBufferMatchesTheInputPath) {
  auto same = [](float a, float b) { return std::isnan(a) ? std::isnan(b) : std::bit_cast<uint32_t>(a) == std::bit_cast<uint32_t>(b); };
  // |a - want| within k ulp of want, the exponent floored at float's smallest normal one (ilogb(0) is INT_MIN).
  auto near = [](double a, double want, int k) {
    if (std::isnan(want)) return std::isnan(a);
    if (std::isinf(want)) return a == want;
    const int e = want == 0.0 ? -126 : std::max(std::ilogb(static_cast<float>(want)), -126);
    return std::fabs(a - want) <= k * std::ldexp(1.0, e - 23);
  };
  for (ActId id : {ActId::Tanhshrink, ActId::LogSigmoid}) {
    ASSERT_EQ(activation_row(id).saves, Saves::Buffer);
    const std::string name(activation_row(id).name);
    for (bool reference : {false, true}) {
      set_reference_kernels(reference);
      for (int64_t n : kSizes) {
        std::vector<float> x(static_cast<size_t>(n));
        std::mt19937 rng(static_cast<uint32_t>(n));
        std::normal_distribution<float> nd(0.0f, 3.0f);
        for (auto& v : x) v = nd(rng);
        const float edge[] = {0.0f, -0.0f, std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                              std::nanf(""), 100.0f, -100.0f, 1e-30f, -1e-30f, 17.0f, -17.0f};
        for (size_t k = 0; k < std::size(edge) && k < x.size(); ++k) x[k] = edge[k];
        std::vector<float> y(x.size()), y2(x.size()), b(x.size()), g(x.size(), 1.5f), gx(x.size()), gb(x.size());
        for (size_t k = 0; k < g.size(); k += 3) g[k] = -0.625f;
        act_forward(id, {}, x.data(), y.data(), n);
        forward_with_buffer(id, x.data(), y2.data(), b.data(), n);
        act_backward(id, {}, false, g.data(), x.data(), gx.data(), n);
        act_backward(id, {}, true, g.data(), b.data(), gb.data(), n);
        for (size_t i = 0; i < x.size(); ++i) {
          EXPECT_TRUE(same(y[i], y2[i])) << name << " x=" << x[i] << ": " << y[i] << " vs " << y2[i];
          EXPECT_TRUE(near(b[i], saved_buffer(id, x[i]), 4)) << name << " x=" << x[i] << ": buffer " << b[i];
          const double exact_g = activation_row(id).backward(g[i], x[i], false, {});
          EXPECT_TRUE(near(gb[i], exact_g, id == ActId::Tanhshrink ? 6 : 4)) << name << " x=" << x[i] << ": " << gb[i];
          if (id == ActId::LogSigmoid)
            EXPECT_TRUE(same(gb[i], static_cast<float>(static_cast<double>(g[i]) * b[i]))) << name << " x=" << x[i];
          else if (!reference)  // the reference recomputes tanh in double, the saved t is rounded to float
            EXPECT_TRUE(same(gx[i], gb[i])) << name << " x=" << x[i] << ": " << gx[i] << " vs " << gb[i];
        }
      }
    }
  }
  set_reference_kernels(false);
  float x = 1.0f, y, b;
  EXPECT_THROW(forward_with_buffer(ActId::ReLU, &x, &y, &b, 1), std::invalid_argument);
}

}  // namespace
}  // namespace actlab::kernels
