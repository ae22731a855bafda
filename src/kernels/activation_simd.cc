// SIMD activation kernels (float): one source compiled for every x86-64 target by Highway's
// foreach_target.h and chosen at run time with HWY_DYNAMIC_DISPATCH.
//
// Every row's forward and backward mirrors the scalar function in activation_table.h: the same
// comparisons (ordered, so NaN takes the same branch as in the double code), the same limits at +-inf,
// and NaN propagated wherever the double code propagates it. Where the direct float formula would
// lose accuracy the kernel uses an equivalent, better conditioned one (each noted at the op); the tests
// in tests/kernels/ check every row against the double reference to 4 ulp.
//
// Cost per element is kept to what streaming at memory bandwidth allows: Sigmoid, SiLU, Mish,
// tanh-GELU are one Exp and one Div each. Loop tails run through the same vector code on a padded
// stack buffer, so every element is computed by the same code path.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>

#include "kernels/activation_kernels.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/activation_simd.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>
#include <hwy/contrib/math/math-inl.h>

#include <immintrin.h>

// Sleef's vector erfc (1.5 ulp). sleef.h hides the AVX/AVX-512 declarations unless the whole file is
// compiled with -mavx/-mavx512f, which this project avoids (one binary, runtime dispatch), so the few
// functions used are declared here; each is only called from code compiled for its instruction set.
#ifndef ACTLAB_SLEEF_DECLS_
#define ACTLAB_SLEEF_DECLS_
extern "C" {
__m128 Sleef_erfcf4_u15sse2(__m128);
__m128 Sleef_erfcf4_u15sse4(__m128);
__m256 Sleef_erfcf8_u15avx2(__m256);
__m512 Sleef_erfcf16_u15avx512f(__m512);
float Sleef_erfcf1_u15purec(float);
}
#endif

HWY_BEFORE_NAMESPACE();
namespace actlab::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;

// ---- float helpers computed once per call on the host side -------------------------------------------
// Largest float <= c and smallest float >= c: for a float x, `x > c` (c double) is exactly `x > fdown(c)`,
// `x <= c` is `x <= fdown(c)`, `x < c` is `x < fup(c)` and `x >= c` is `x >= fup(c)`.
inline float FDown(double c) {
  float f = static_cast<float>(c);
  if (static_cast<double>(f) > c) f = std::nextafter(f, -std::numeric_limits<float>::infinity());
  return f;
}
inline float FUp(double c) {
  float f = static_cast<float>(c);
  if (static_cast<double>(f) < c) f = std::nextafter(f, std::numeric_limits<float>::infinity());
  return f;
}
// c as an unevaluated sum hi + lo of two floats.
struct F2 {
  float hi, lo;
};
inline F2 Split(double c) {
  float hi = static_cast<float>(c);
  return {hi, static_cast<float>(c - static_cast<double>(hi))};
}

// ---- math building blocks --------------------------------------------------------------------------
constexpr float kInf = std::numeric_limits<float>::infinity();

// e^x for all x: 0 below -104, +inf above the float range, NaN in -> NaN out (Highway's Exp maps NaN
// to 0 and is not defined above 104). Max error 1 ulp (Highway's polynomial), subnormal results rounded
// once.
template <class D, class V>
HWY_INLINE V ExpF(D d, V x) {
  hn::impl::ExpImpl<float> impl;
  const auto q = impl.ToInt32(
      d, hn::MulAdd(x, hn::Set(d, 1.442695040888963407359924681f),
                    hn::Or(hn::Set(d, 0.5f), hn::And(x, hn::Set(d, -0.0f)))));
  V y = impl.LoadExpShortRange(d, hn::Add(impl.ExpPoly(d, impl.ExpReduce(d, x, q)), hn::Set(d, 1.0f)), q);
  y = hn::IfThenZeroElse(hn::Lt(x, hn::Set(d, -104.0f)), y);
  return hn::IfThenElse(hn::Gt(x, hn::Set(d, 88.75f)), hn::Set(d, kInf), y);
}
// e^x for x <= 0 or NaN (no overflow guard needed).
template <class D, class V>
HWY_INLINE V ExpNegF(D d, V x) {
  hn::impl::ExpImpl<float> impl;
  const auto q = impl.ToInt32(d, hn::Sub(hn::Mul(x, hn::Set(d, 1.442695040888963407359924681f)), hn::Set(d, 0.5f)));
  V y = impl.LoadExpShortRange(d, hn::Add(impl.ExpPoly(d, impl.ExpReduce(d, x, q)), hn::Set(d, 1.0f)), q);
  return hn::IfThenZeroElse(hn::Lt(x, hn::Set(d, -104.0f)), y);
}
// m * e^x for x <= 0 with one final rounding, also where e^x alone would already be subnormal:
// m * (1 + p(r)) is formed in the normal range and then scaled by 2^q. 0 * m below -120 (NaN for m = inf).
template <class D, class V>
HWY_INLINE void ExpNegAndScaledF(D d, V x, V m, V& e, V& me) {
  hn::impl::ExpImpl<float> impl;
  const auto q = impl.ToInt32(d, hn::Sub(hn::Mul(x, hn::Set(d, 1.442695040888963407359924681f)), hn::Set(d, 0.5f)));
  const V p1 = hn::Add(impl.ExpPoly(d, impl.ExpReduce(d, x, q)), hn::Set(d, 1.0f));
  e = hn::IfThenZeroElse(hn::Lt(x, hn::Set(d, -104.0f)), impl.LoadExpShortRange(d, p1, q));
  me = hn::IfThenElse(hn::Lt(x, hn::Set(d, -120.0f)), hn::Mul(m, hn::Zero(d)),
                      impl.LoadExpShortRange(d, hn::Mul(m, p1), q));
}
// e^x - 1 for x <= 88.3 (returns +inf above), NaN propagates. Computed as p * 2^q + (2^q - 1) with
// p = e^r - 1 from Highway's polynomial on the reduced argument: one rounding after the polynomial
// (fused on FMA targets, and exact scaling plus one add elsewhere), so no cancellation near 0.
template <class D, class V>
HWY_INLINE V Expm1F(D d, V x) {
  hn::impl::ExpImpl<float> impl;
  const auto q = impl.ToInt32(
      d, hn::MulAdd(x, hn::Set(d, 1.442695040888963407359924681f),
                    hn::Or(hn::Set(d, 0.5f), hn::And(x, hn::Set(d, -0.0f)))));
  const V p = impl.ExpPoly(d, impl.ExpReduce(d, x, q));
  const V t = impl.Pow2I(d, q);
  V y = hn::MulAdd(p, t, hn::Sub(t, hn::Set(d, 1.0f)));
  y = hn::IfThenElse(hn::Lt(x, hn::Set(d, -87.0f)), hn::Set(d, -1.0f), y);
  return hn::IfThenElse(hn::Gt(x, hn::Set(d, 88.3f)), hn::Set(d, kInf), y);
}
// log(1 + u) for u in [0, 1] or NaN.
template <class D, class V>
HWY_INLINE V Log1pF(D d, V u) {
  return hn::Log1p(d, u);
}
// tanh(x), |error| ~ 2 ulp: e / (e + 2) with e = expm1(2|x|); 1 beyond 9.1.
template <class D, class V>
HWY_INLINE V TanhF(D d, V x) {
  const V a = hn::Abs(x);
  const V e = Expm1F(d, hn::Add(a, a));
  V t = hn::Div(e, hn::Add(e, hn::Set(d, 2.0f)));
  t = hn::IfThenElse(hn::Gt(a, hn::Set(d, 9.1f)), hn::Set(d, 1.0f), t);
  return hn::CopySignToAbs(t, x);
}

// erfc with Sleef for the target's vector width.
template <class D, class V>
HWY_INLINE V ErfcF(D d, V x) {
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL || (defined(HWY_AVX3_ZEN4) && HWY_TARGET == HWY_AVX3_ZEN4)
  (void)d;
  return V{Sleef_erfcf16_u15avx512f(x.raw)};
#elif HWY_TARGET == HWY_AVX2
  (void)d;
  return V{Sleef_erfcf8_u15avx2(x.raw)};
#elif HWY_TARGET == HWY_SSE4
  (void)d;
  return V{Sleef_erfcf4_u15sse4(x.raw)};
#elif HWY_TARGET == HWY_SSSE3
  (void)d;
  return V{Sleef_erfcf4_u15sse2(x.raw)};
#else
  constexpr size_t kMax = 64;
  HWY_ALIGN float buf[kMax];
  hn::Store(x, d, buf);
  for (size_t i = 0; i < hn::Lanes(d); ++i) buf[i] = Sleef_erfcf1_u15purec(buf[i]);
  return hn::Load(d, buf);
#endif
}

// Error of the product a * b: a * b = p + TwoProdErr(a, b, p) exactly (FMA, or Dekker's split).
template <class D, class V>
HWY_INLINE V TwoProdErr(D d, V a, V b, V p) {
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
  (void)d;
  return hn::MulSub(a, b, p);
#else
  const V k = hn::Set(d, 4097.0f);
  const V ca = hn::Mul(a, k), cb = hn::Mul(b, k);
  const V ah = hn::Sub(ca, hn::Sub(ca, a)), al = hn::Sub(a, ah);
  const V bh = hn::Sub(cb, hn::Sub(cb, b)), bl = hn::Sub(b, bh);
  return hn::Add(hn::Add(hn::Add(hn::Sub(hn::Mul(ah, bh), p), hn::Mul(ah, bl)), hn::Mul(al, bh)), hn::Mul(al, bl));
#endif
}

// ---- one struct per row: Fwd(x), Bwd(g, saved) --------------------------------------------------------
struct OpReLU {
  explicit OpReLU(const ParamValues&) {}
  // x < 0 ? 0 : x: NaN and -0.0 pass through, as clamp_min.
  HWY_INLINE VF Fwd(DF d, VF x) const { return hn::IfThenZeroElse(hn::Lt(x, hn::Zero(d)), x); }
  HWY_INLINE VF Bwd(DF d, VF g, VF s) const { return hn::IfThenZeroElse(hn::Le(s, hn::Zero(d)), g); }
};

struct OpLeakyReLU {
  float slope;
  explicit OpLeakyReLU(const ParamValues& p) : slope(static_cast<float>(p[0])) {}
  HWY_INLINE VF Fwd(DF d, VF x) const {
    return hn::IfThenElse(hn::Gt(x, hn::Zero(d)), x, hn::Mul(x, hn::Set(d, slope)));
  }
  HWY_INLINE VF Bwd(DF d, VF g, VF s) const {
    return hn::IfThenElse(hn::Gt(s, hn::Zero(d)), g, hn::Mul(g, hn::Set(d, slope)));
  }
};

// sigmoid(x) = 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0, e = exp(-|x|): one Exp, one Div, no
// overflow, and full relative accuracy for very negative x (where 1 / (1 + exp(-x)) flushes to 0).
HWY_INLINE VF SigmoidF(DF d, VF x) {
  const VF e = ExpNegF(d, hn::Neg(hn::Abs(x)));
  const VF num = hn::IfThenElse(hn::Lt(x, hn::Zero(d)), e, hn::Set(d, 1.0f));
  return hn::Div(num, hn::Add(hn::Set(d, 1.0f), e));
}
// sigmoid and 1 - sigmoid together, with one Div.
HWY_INLINE void SigmoidPairF(DF d, VF x, VF& s, VF& oms) {
  const VF e = ExpNegF(d, hn::Neg(hn::Abs(x)));
  const VF r = hn::Div(hn::Set(d, 1.0f), hn::Add(hn::Set(d, 1.0f), e));
  const VF er = hn::Mul(e, r);
  const auto neg = hn::Lt(x, hn::Zero(d));
  s = hn::IfThenElse(neg, er, r);
  oms = hn::IfThenElse(neg, r, er);
}

struct OpSigmoid {
  explicit OpSigmoid(const ParamValues&) {}
  HWY_INLINE VF Fwd(DF d, VF x) const { return SigmoidF(d, x); }
  HWY_INLINE VF Bwd(DF d, VF g, VF y) const { return hn::Mul(hn::Mul(g, hn::Sub(hn::Set(d, 1.0f), y)), y); }
};

struct OpTanh {
  explicit OpTanh(const ParamValues&) {}
  HWY_INLINE VF Fwd(DF d, VF x) const { return TanhF(d, x); }
  // 1 - y^2 as (1 - y)(1 + y): exact 1 - y near |y| = 1 instead of a cancelling y * y.
  HWY_INLINE VF Bwd(DF d, VF g, VF y) const {
    const VF one = hn::Set(d, 1.0f);
    return hn::Mul(g, hn::Mul(hn::Sub(one, y), hn::Add(one, y)));
  }
};

// ELU, SELU, CELU: elu(x; alpha, scale, input_scale).
template <bool kFromOutput>
struct OpElu {
  float as, is, scale, coef;  // alpha * scale, input_scale, scale, input_scale * alpha * scale
  F2 as2;                     // alpha * scale in two floats for (y + alpha * scale)
  OpElu(double alpha, double sc, double in_sc)
      : as(static_cast<float>(alpha * sc)),
        is(static_cast<float>(in_sc)),
        scale(static_cast<float>(sc)),
        coef(static_cast<float>(in_sc * alpha * sc)),
        as2(Split(alpha * sc)) {}
  HWY_INLINE VF Fwd(DF d, VF x) const {
    const VF neg = hn::Mul(Expm1F(d, hn::Mul(x, hn::Set(d, is))), hn::Set(d, as));
    return hn::IfThenElse(hn::Le(x, hn::Zero(d)), neg, hn::Mul(x, hn::Set(d, scale)));
  }
  HWY_INLINE VF Bwd(DF d, VF g, VF s) const {
    VF neg;
    if constexpr (kFromOutput) {
      // y + alpha * scale: y + hi is exact where it cancels (y close to -alpha * scale).
      const VF sum = hn::Add(hn::Add(s, hn::Set(d, as2.hi)), hn::Set(d, as2.lo));
      neg = hn::Mul(hn::Mul(g, hn::Set(d, is)), sum);
    } else {
      neg = hn::Mul(hn::Mul(g, hn::Set(d, coef)), ExpF(d, hn::Mul(s, hn::Set(d, is))));
    }
    // The positive branch only for s > 0: NaN takes the negative one and stays NaN.
    return hn::IfThenElse(hn::Gt(s, hn::Zero(d)), hn::Mul(g, hn::Set(d, scale)), neg);
  }
};
template <bool kFromOutput>
OpElu<kFromOutput> MakeElu(ActId id, const ParamValues& p) {
  if (id == ActId::SELU) return OpElu<kFromOutput>(scalar::kSeluAlpha, scalar::kSeluScale, 1.0);
  if (id == ActId::CELU) return OpElu<kFromOutput>(p[0], 1.0, 1.0 / p[0]);
  return OpElu<kFromOutput>(p[0], 1.0, 1.0);
}

// GELU, approximate='none': x * Phi(x). Sleef's erfc costs ~7 Exp here, so Phi uses its own form:
//   Phi(-a) = erfc(a/sqrt(2)) / 2 = R(u) exp(-a^2/2) / 2,  u = (1 - c a) / (1 + c a),  c = 1/(2 sqrt(2)),
// a = |x|, R a degree-11 polynomial in u for erfc(a/sqrt(2)) exp(a^2/2) (from a Chebyshev interpolation
// in T = (1 + u)/2; max relative error 1.2e-8, < 0.2 ulp; decaying coefficients, stable Horner), and
// Phi(x) = 1 - Phi(-x) for x > 0.
// exp(-x^2/2) is formed from x^2 = hh + hl exactly, so no argument rounding is amplified by x^2; the
// result keeps full relative accuracy in the far negative tail, where 1 + erf cancels. The backward
// shares the exp with the pdf. One Exp, one Div.
struct OpGeluErf {
  explicit OpGeluErf(const ParamValues&) {}
  // exp(-x^2/2), with the low part of x^2 applied as (1 - hl/2).
  HWY_INLINE VF Gauss(DF d, VF x) const {
    const VF hh = hn::Mul(x, x);
    const VF hl = hn::IfThenElseZero(hn::Lt(hn::Abs(x), hn::Set(d, 16.0f)), TwoProdErr(d, x, x, hh));
    const VF half = hn::Set(d, 0.5f);
    return hn::Mul(ExpNegF(d, hn::Neg(hn::Mul(hh, half))), hn::NegMulAdd(hl, half, hn::Set(d, 1.0f)));
  }
  // Phi(x) given g = exp(-x^2/2).
  HWY_INLINE VF Cdf(DF d, VF x, VF g) const {
    const VF ax = hn::Abs(x);  // capped so that u stays finite at +-inf (g = 0 there anyway)
    const VF ca = hn::Mul(hn::IfThenElse(hn::Gt(ax, hn::Set(d, 1e4f)), hn::Set(d, 1e4f), ax),
                          hn::Set(d, 0.35355339059327376f));
    const VF one = hn::Set(d, 1.0f);
    const VF u = hn::Div(hn::Sub(one, ca), hn::Add(one, ca));  // 2T - 1 in (-1, 1]
    VF r = hn::Set(d, 2.1080598728406841e-05f);
    r = hn::MulAdd(r, u, hn::Set(d, 2.7796602164453788e-06f));
    r = hn::MulAdd(r, u, hn::Set(d, -0.0001679922948855106f));
    r = hn::MulAdd(r, u, hn::Set(d, 6.564388794916276e-05f));
    r = hn::MulAdd(r, u, hn::Set(d, 0.00097991382500539626f));
    r = hn::MulAdd(r, u, hn::Set(d, -0.00085714737845751787f));
    r = hn::MulAdd(r, u, hn::Set(d, -0.0069975390525381237f));
    r = hn::MulAdd(r, u, hn::Set(d, 0.0037350216208241263f));
    r = hn::MulAdd(r, u, hn::Set(d, 0.078978701475199031f));
    r = hn::MulAdd(r, u, hn::Set(d, 0.24165802611645701f));
    r = hn::MulAdd(r, u, hn::Set(d, 0.42718583781345248f));
    r = hn::MulAdd(r, u, hn::Set(d, 0.25539567845797245f));
    const VF h = hn::Mul(hn::Mul(r, hn::Set(d, 0.5f)), g);  // Phi(-|x|)
    return hn::IfThenElse(hn::Gt(x, hn::Zero(d)), hn::Sub(hn::Set(d, 1.0f), h), h);
  }
  HWY_INLINE VF Fwd(DF d, VF x) const { return hn::Mul(x, Cdf(d, x, Gauss(d, x))); }
  HWY_INLINE VF Bwd(DF d, VF gr, VF x) const {
    const VF g = Gauss(d, x);
    const VF pdf = hn::Mul(g, hn::Set(d, static_cast<float>(scalar::kInvSqrt2Pi)));
    return hn::Mul(gr, hn::MulAdd(x, pdf, Cdf(d, x, g)));
  }
};

// GELU, approximate='tanh': x/2 (1 + tanh(u)) = x / (1 + exp(-2u)), u = beta (x + kappa x^3).
struct OpGeluTanh {
  explicit OpGeluTanh(const ParamValues&) {}
  static constexpr double kB = scalar::kGeluBeta, kK = scalar::kGeluKappa;
  // -2u = x * (-2 beta - 2 beta kappa x^2)
  HWY_INLINE VF MinusTwoU(DF d, VF x) const {
    return hn::Mul(x, hn::MulAdd(hn::Set(d, static_cast<float>(-2 * kB * kK)), hn::Mul(x, x),
                                 hn::Set(d, static_cast<float>(-2 * kB))));
  }
  HWY_INLINE VF Fwd(DF d, VF x) const {
    const VF e = ExpF(d, MinusTwoU(d, x));
    return hn::Div(x, hn::Add(hn::Set(d, 1.0f), e));
  }
  // With s = sigmoid(2u): 1 + tanh = 2s, 1 - tanh^2 = 4 s (1 - s), 1 - s = e s, so
  // d/dx = s (1 + x (2 beta + 6 beta kappa x^2) e s).
  HWY_INLINE VF Bwd(DF d, VF g, VF x) const {
    const VF e = ExpF(d, MinusTwoU(d, x));
    const VF s = hn::Div(hn::Set(d, 1.0f), hn::Add(hn::Set(d, 1.0f), e));
    const VF p = hn::Mul(x, hn::MulAdd(hn::Set(d, static_cast<float>(6 * kB * kK)), hn::Mul(x, x),
                                       hn::Set(d, static_cast<float>(2 * kB))));
    VF r = hn::Mul(g, hn::Mul(s, hn::MulAdd(p, hn::Mul(e, s), hn::Set(d, 1.0f))));
    // Beyond |x| = 9, tanh(u) is exactly +-1 in double: the table gives g (x > 9) or g * 0 (x < -9),
    // NaN at +-inf; x * 0 supplies the NaN.
    const VF x0 = hn::Mul(x, hn::Zero(d));
    r = hn::IfThenElse(hn::Gt(x, hn::Set(d, 9.0f)), hn::Mul(g, hn::Add(hn::Set(d, 1.0f), x0)), r);
    return hn::IfThenElse(hn::Lt(x, hn::Set(d, -9.0f)), hn::Mul(g, x0), r);
  }
};

struct OpSiLU {
  explicit OpSiLU(const ParamValues&) {}
  // x / (1 + exp(-x)) for x >= 0, x e / (1 + e) for x < 0 (e = exp(x)): one Exp, one Div.
  HWY_INLINE VF Fwd(DF d, VF x) const {
    VF e, xe;
    ExpNegAndScaledF(d, hn::Neg(hn::Abs(x)), x, e, xe);  // xe = x e, rounded once even when subnormal
    const VF num = hn::IfThenElse(hn::Lt(x, hn::Zero(d)), xe, x);
    return hn::Div(num, hn::Add(hn::Set(d, 1.0f), e));
  }
  HWY_INLINE VF Bwd(DF d, VF g, VF x) const {
    VF s, oms;
    SigmoidPairF(d, x, s, oms);
    return hn::Mul(g, hn::Mul(s, hn::MulAdd(x, oms, hn::Set(d, 1.0f))));
  }
};

// Mish: tanh(softplus(x)) = n / d with e = exp(-|x|):
//   x < 0:  n = e (e + 2), den = n + 2        ((1+e)^2 - 1) / ((1+e)^2 + 1)
//   x >= 0: n = 1 + 2e,    den = n + 2 e^2    the same divided by e'^2, e' = exp(x)
// One Exp, one Div, no overflow for large x.
struct OpMish {
  explicit OpMish(const ParamValues&) {}
  HWY_INLINE void Parts(DF d, VF x, VF& e, VF& num, VF& den, VF& dmn, hn::Mask<DF>& neg) const {
    const VF one = hn::Set(d, 1.0f), two = hn::Set(d, 2.0f);
    e = ExpNegF(d, hn::Neg(hn::Abs(x)));
    neg = hn::Lt(x, hn::Zero(d));
    const VF e2 = hn::Add(e, e);
    num = hn::IfThenElse(neg, hn::Mul(e, hn::Add(e, two)), hn::Add(one, e2));
    dmn = hn::IfThenElse(neg, two, hn::Mul(e2, e));  // den - num
    den = hn::Add(num, dmn);
  }
  HWY_INLINE VF Fwd(DF d, VF x) const {
    VF e, num, den, dmn;
    hn::Mask<DF> neg;
    Parts(d, x, e, num, den, dmn, neg);
    // x * num, with x * e formed before any subnormal rounding for x < 0 (num = e (e + 2)).
    VF e2, xe;
    ExpNegAndScaledF(d, hn::Neg(hn::Abs(x)), x, e2, xe);
    const VF xnum = hn::IfThenElse(neg, hn::Mul(xe, hn::Add(e, hn::Set(d, 2.0f))), hn::Mul(x, num));
    return hn::Div(xnum, den);
  }
  // d/dx = t + x sigmoid(x) (1 - t^2), t = num/den, 1 - t^2 = (den - num)(den + num)/den^2,
  // sigmoid = sn / (1 + e) (sn = e for x < 0, 1 otherwise): one Div of den^2 (1 + e) in [1, 50].
  HWY_INLINE VF Bwd(DF d, VF g, VF x) const {
    VF e, num, den, dmn;
    hn::Mask<DF> neg;
    Parts(d, x, e, num, den, dmn, neg);
    const VF ope = hn::Add(hn::Set(d, 1.0f), e);
    const VF dope = hn::Mul(den, ope);
    const VF r = hn::Div(hn::Set(d, 1.0f), hn::Mul(den, dope));
    const VF sn = hn::IfThenElse(neg, e, hn::Set(d, 1.0f));
    const VF second = hn::Mul(hn::Mul(x, sn), hn::Mul(dmn, hn::Add(den, num)));
    return hn::Mul(g, hn::Mul(r, hn::MulAdd(num, dope, second)));
  }
};

// Softplus: log1p(exp(z)) / beta = (max(z, 0) + log1p(exp(-|z|))) / beta, z = beta x; x where z > threshold.
struct OpSoftplus {
  float beta, inv_beta, thr;
  explicit OpSoftplus(const ParamValues& p)
      : beta(static_cast<float>(p[0])), inv_beta(static_cast<float>(1.0 / p[0])), thr(static_cast<float>(p[1])) {}
  HWY_INLINE VF Fwd(DF d, VF x) const {
    const VF z = hn::Mul(x, hn::Set(d, beta));
    const VF lp = Log1pF(d, ExpNegF(d, hn::Neg(hn::Abs(z))));
    const VF sp = hn::Add(hn::IfThenElseZero(hn::Gt(z, hn::Zero(d)), z), lp);
    return hn::IfThenElse(hn::Gt(z, hn::Set(d, thr)), x, hn::Mul(sp, hn::Set(d, inv_beta)));
  }
  HWY_INLINE VF Bwd(DF d, VF g, VF x) const {
    const VF z = hn::Mul(x, hn::Set(d, beta));
    return hn::IfThenElse(hn::Gt(z, hn::Set(d, thr)), g, hn::Mul(g, SigmoidF(d, z)));
  }
};

struct OpSoftsign {
  explicit OpSoftsign(const ParamValues&) {}
  HWY_INLINE VF Fwd(DF d, VF x) const { return hn::Div(x, hn::Add(hn::Set(d, 1.0f), hn::Abs(x))); }
  // g / (1 + |x|)^2; + x * 0 makes it NaN at +-inf, where the table's composite gradient is NaN.
  HWY_INLINE VF Bwd(DF d, VF g, VF x) const {
    const VF b = hn::Add(hn::Set(d, 1.0f), hn::Abs(x));
    return hn::Add(hn::Div(g, hn::Mul(b, b)), hn::Mul(x, hn::Zero(d)));
  }
};

struct OpSoftshrink {
  float gt, lt;  // x > l, x < -l as float comparisons
  F2 l;
  explicit OpSoftshrink(const ParamValues& p) : gt(FDown(p[0])), lt(FUp(-p[0])), l(Split(p[0])) {}
  HWY_INLINE VF Fwd(DF d, VF x) const {
    const VF hi = hn::Set(d, l.hi), lo = hn::Set(d, l.lo);
    const VF up = hn::Sub(hn::Sub(x, hi), lo);
    const VF dn = hn::Add(hn::Add(x, hi), lo);
    return hn::IfThenElse(hn::Gt(x, hn::Set(d, gt)), up,
                          hn::IfThenElseZero(hn::Lt(x, hn::Set(d, lt)), dn));  // NaN -> 0 as the table
  }
  // (x < -l || x > l) ? g : 0; 0 at NaN.
  HWY_INLINE VF Bwd(DF d, VF g, VF x) const {
    return hn::IfThenElseZero(hn::Or(hn::Lt(x, hn::Set(d, lt)), hn::Gt(x, hn::Set(d, gt))), g);
  }
};

struct OpHardshrink {
  float ge, le, lt, gt;  // x >= -l, x <= l, x < -l, x > l
  explicit OpHardshrink(const ParamValues& p) : ge(FUp(-p[0])), le(FDown(p[0])), lt(FUp(-p[0])), gt(FDown(p[0])) {}
  // (-l <= x <= l) ? 0 : x (NaN stays NaN); backward (x < -l || x > l) ? g : 0 (0 at NaN).
  HWY_INLINE VF Fwd(DF d, VF x) const {
    return hn::IfThenZeroElse(hn::And(hn::Ge(x, hn::Set(d, ge)), hn::Le(x, hn::Set(d, le))), x);
  }
  HWY_INLINE VF Bwd(DF d, VF g, VF x) const {
    return hn::IfThenElseZero(hn::Or(hn::Lt(x, hn::Set(d, lt)), hn::Gt(x, hn::Set(d, gt))), g);
  }
};

struct OpTanhshrink {
  explicit OpTanhshrink(const ParamValues&) {}
  HWY_INLINE VF Fwd(DF d, VF x) const { return hn::Sub(x, TanhF(d, x)); }
  // g - g (1 - t^2) = g t^2, without the cancellation.
  HWY_INLINE VF Bwd(DF d, VF g, VF x) const {
    const VF t = TanhF(d, x);
    return hn::Mul(hn::Mul(g, t), t);
  }
};

// Hardtanh and ReLU6: clamp to [lo, hi].
struct OpClamp {
  float lt, gt, lo_v, hi_v;  // x < lo, x > hi; values
  float s_gt, s_lt;          // s > lo, s < hi
  OpClamp(double lo, double hi)
      : lt(FUp(lo)), gt(FDown(hi)), lo_v(static_cast<float>(lo)), hi_v(static_cast<float>(hi)), s_gt(FDown(lo)),
        s_lt(FUp(hi)) {}
  HWY_INLINE VF Fwd(DF d, VF x) const {
    return hn::IfThenElse(hn::Lt(x, hn::Set(d, lt)), hn::Set(d, lo_v),
                          hn::IfThenElse(hn::Gt(x, hn::Set(d, gt)), hn::Set(d, hi_v), x));
  }
  HWY_INLINE VF Bwd(DF d, VF g, VF s) const {
    // (lo < s < hi) ? g : 0: 0 at the bounds and at NaN.
    return hn::IfThenElseZero(hn::And(hn::Gt(s, hn::Set(d, s_gt)), hn::Lt(s, hn::Set(d, s_lt))), g);
  }
};

struct OpHardsigmoid {
  explicit OpHardsigmoid(const ParamValues&) {}
  HWY_INLINE VF Fwd(DF d, VF x) const {
    VF v = hn::Add(x, hn::Set(d, 3.0f));
    v = hn::IfThenZeroElse(hn::Lt(v, hn::Zero(d)), v);
    v = hn::IfThenElse(hn::Gt(v, hn::Set(d, 6.0f)), hn::Set(d, 6.0f), v);
    return hn::Div(v, hn::Set(d, 6.0f));
  }
  HWY_INLINE VF Bwd(DF d, VF g, VF x) const {
    const auto in = hn::And(hn::Gt(x, hn::Set(d, -3.0f)), hn::Lt(x, hn::Set(d, 3.0f)));
    return hn::IfThenElseZero(in, hn::Div(g, hn::Set(d, 6.0f)));
  }
};

struct OpHardswish {
  explicit OpHardswish(const ParamValues&) {}
  HWY_INLINE VF Fwd(DF d, VF x) const {
    VF v = hn::Add(x, hn::Set(d, 3.0f));
    v = hn::IfThenZeroElse(hn::Lt(v, hn::Zero(d)), v);
    v = hn::IfThenElse(hn::Gt(v, hn::Set(d, 6.0f)), hn::Set(d, 6.0f), v);
    return hn::Mul(x, hn::Div(v, hn::Set(d, 6.0f)));  // x * (v / 6): no overflow of x * v
  }
  // x/3 + 1/2 as (x + 1.5) / 3: exact x + 1.5 near the zero at -1.5.
  HWY_INLINE VF Bwd(DF d, VF g, VF x) const {
    const VF mid = hn::Mul(g, hn::Div(hn::Add(x, hn::Set(d, 1.5f)), hn::Set(d, 3.0f)));
    // x < -3: 0; -3 <= x < 3: mid (Hardswish'(-3) = -0.5 as PyTorch 1.13.1); x >= 3: g; NaN: NaN (mid).
    return hn::IfThenZeroElse(hn::Lt(x, hn::Set(d, -3.0f)), hn::IfThenElse(hn::Ge(x, hn::Set(d, 3.0f)), g, mid));
  }
};

struct OpLogSigmoid {
  explicit OpLogSigmoid(const ParamValues&) {}
  HWY_INLINE VF Fwd(DF d, VF x) const {
    const VF lp = Log1pF(d, ExpNegF(d, hn::Neg(hn::Abs(x))));
    return hn::Sub(hn::IfThenElseZero(hn::Lt(x, hn::Zero(d)), x), lp);
  }
  // g (1 - z/(1+z)) = g / (1 + z) for x < 0, g z / (1 + z) otherwise.
  HWY_INLINE VF Bwd(DF d, VF g, VF x) const {
    const VF z = ExpNegF(d, hn::Neg(hn::Abs(x)));
    const VF num = hn::IfThenElse(hn::Lt(x, hn::Zero(d)), g, hn::Mul(g, z));
    return hn::Div(num, hn::Add(hn::Set(d, 1.0f), z));
  }
};

struct OpThreshold {
  float le, value;
  explicit OpThreshold(const ParamValues& p) : le(FDown(p[0])), value(static_cast<float>(p[1])) {}
  HWY_INLINE VF Fwd(DF d, VF x) const { return hn::IfThenElse(hn::Le(x, hn::Set(d, le)), hn::Set(d, value), x); }
  HWY_INLINE VF Bwd(DF d, VF g, VF x) const { return hn::IfThenZeroElse(hn::Le(x, hn::Set(d, le)), g); }
};

// ---- loops -------------------------------------------------------------------------------------------
constexpr size_t kMaxLanesF = 64;  // >= any x86 target's float lanes

template <class Op>
HWY_NOINLINE void LoopFwd(const Op& op, const float* x, float* y, size_t n) {
  const DF d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    const VF a = hn::LoadU(d, x + i);
    const VF b = hn::LoadU(d, x + i + N);
    hn::StoreU(op.Fwd(d, a), d, y + i);
    hn::StoreU(op.Fwd(d, b), d, y + i + N);
  }
  for (; i + N <= n; i += N) hn::StoreU(op.Fwd(d, hn::LoadU(d, x + i)), d, y + i);
  if (i < n) {
    const size_t rem = n - i;
    HWY_ALIGN float buf[kMaxLanesF] = {};
    std::memcpy(buf, x + i, rem * sizeof(float));
    hn::Store(op.Fwd(d, hn::Load(d, buf)), d, buf);
    std::memcpy(y + i, buf, rem * sizeof(float));
  }
}

template <class Op>
HWY_NOINLINE void LoopBwd(const Op& op, const float* g, const float* s, float* gi, size_t n) {
  const DF d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    const VF g0 = hn::LoadU(d, g + i), s0 = hn::LoadU(d, s + i);
    const VF g1 = hn::LoadU(d, g + i + N), s1 = hn::LoadU(d, s + i + N);
    hn::StoreU(op.Bwd(d, g0, s0), d, gi + i);
    hn::StoreU(op.Bwd(d, g1, s1), d, gi + i + N);
  }
  for (; i + N <= n; i += N) hn::StoreU(op.Bwd(d, hn::LoadU(d, g + i), hn::LoadU(d, s + i)), d, gi + i);
  if (i < n) {
    const size_t rem = n - i;
    HWY_ALIGN float bg[kMaxLanesF] = {};
    HWY_ALIGN float bs[kMaxLanesF] = {};
    std::memcpy(bg, g + i, rem * sizeof(float));
    std::memcpy(bs, s + i, rem * sizeof(float));
    hn::Store(op.Bwd(d, hn::Load(d, bg), hn::Load(d, bs)), d, bg);
    std::memcpy(gi + i, bg, rem * sizeof(float));
  }
}

// Calls f(op) with the row's op struct.
template <class F>
HWY_INLINE void WithOp(ActId id, const ParamValues& p, bool from_output, F&& f) {
  switch (id) {
    case ActId::ReLU: return f(OpReLU(p));
    case ActId::LeakyReLU: return f(OpLeakyReLU(p));
    case ActId::Sigmoid: return f(OpSigmoid(p));
    case ActId::Tanh: return f(OpTanh(p));
    case ActId::ELU:
    case ActId::SELU:
    case ActId::CELU:
      if (from_output) return f(MakeElu<true>(id, p));
      return f(MakeElu<false>(id, p));
    case ActId::GELU:
      if (p[0] != 0) return f(OpGeluTanh(p));
      return f(OpGeluErf(p));
    case ActId::SiLU: return f(OpSiLU(p));
    case ActId::Mish: return f(OpMish(p));
    case ActId::Softplus: return f(OpSoftplus(p));
    case ActId::Softsign: return f(OpSoftsign(p));
    case ActId::Softshrink: return f(OpSoftshrink(p));
    case ActId::Hardshrink: return f(OpHardshrink(p));
    case ActId::Tanhshrink: return f(OpTanhshrink(p));
    case ActId::Hardtanh: return f(OpClamp(p[0], p[1]));
    case ActId::ReLU6: return f(OpClamp(0.0, 6.0));
    case ActId::Hardsigmoid: return f(OpHardsigmoid(p));
    case ActId::Hardswish: return f(OpHardswish(p));
    case ActId::LogSigmoid: return f(OpLogSigmoid(p));
    case ActId::Threshold: return f(OpThreshold(p));
    default: return;
  }
}

void ActForwardF32(ActId id, const ParamValues& p, const float* x, float* y, size_t n) {
  WithOp(id, p, false, [&](const auto& op) { LoopFwd(op, x, y, n); });
}
void ActBackwardF32(ActId id, const ParamValues& p, bool from_output, const float* g, const float* s, float* gi,
                    size_t n) {
  WithOp(id, p, from_output, [&](const auto& op) { LoopBwd(op, g, s, gi, n); });
}

// ---- softmax over a contiguous row -------------------------------------------------------------------
// kind: 0 softmax, 1 log_softmax, 2 softmin (softmax of -x).
void SoftmaxRowF32(int kind, const float* x, float* y, size_t n) {
  const DF d;
  const size_t N = hn::Lanes(d);
  const VF sign = hn::Set(d, kind == 2 ? -0.0f : 0.0f);  // xor with -0 negates
  // Loads lanes [i, i + N) of sign * x, padding past n with -inf.
  auto load = [&](size_t i) {
    if (i + N <= n) return hn::Xor(hn::LoadU(d, x + i), sign);
    HWY_ALIGN float buf[kMaxLanesF];
    for (size_t k = 0; k < N; ++k) buf[k] = i + k < n ? (kind == 2 ? -x[i + k] : x[i + k]) : -kInf;
    return hn::Load(d, buf);
  };
  VF vmax = hn::Set(d, -kInf);
  for (size_t i = 0; i < n; i += N) vmax = hn::Max(vmax, load(i));
  const float m = hn::GetLane(hn::MaxOfLanes(d, vmax));
  const VF vm = hn::Set(d, m);
  VF vsum = hn::Zero(d);
  for (size_t i = 0; i < n; i += N) {
    const VF e = ExpF(d, hn::Sub(load(i), vm));  // padded lanes: exp(-inf) = 0
    vsum = hn::Add(vsum, e);
    if (kind != 1) {
      if (i + N <= n) {
        hn::StoreU(e, d, y + i);
      } else {
        HWY_ALIGN float buf[kMaxLanesF];
        hn::Store(e, d, buf);
        std::memcpy(y + i, buf, (n - i) * sizeof(float));
      }
    }
  }
  const float sum = hn::GetLane(hn::SumOfLanes(d, vsum));
  if (kind == 1) {
    const VF lse = hn::Set(d, std::log(sum));
    for (size_t i = 0; i < n; i += N) {
      const VF r = hn::Sub(hn::Sub(load(i), vm), lse);
      if (i + N <= n) {
        hn::StoreU(r, d, y + i);
      } else {
        HWY_ALIGN float buf[kMaxLanesF];
        hn::Store(r, d, buf);
        std::memcpy(y + i, buf, (n - i) * sizeof(float));
      }
    }
  } else {
    const VF inv = hn::Set(d, 1.0f / sum);
    size_t i = 0;
    for (; i + N <= n; i += N) hn::StoreU(hn::Mul(hn::LoadU(d, y + i), inv), d, y + i);
    for (; i < n; ++i) y[i] *= 1.0f / sum;
  }
}

// Backward over a contiguous row, from the saved output y.
void SoftmaxBackwardRowF32(int kind, const float* g, const float* y, float* gx, size_t n) {
  const DF d;
  const size_t N = hn::Lanes(d);
  auto load = [&](const float* p, size_t i) {
    if (i + N <= n) return hn::LoadU(d, p + i);
    HWY_ALIGN float buf[kMaxLanesF] = {};
    std::memcpy(buf, p + i, (n - i) * sizeof(float));
    return hn::Load(d, buf);
  };
  auto store = [&](VF v, size_t i) {
    if (i + N <= n) return hn::StoreU(v, d, gx + i);
    HWY_ALIGN float buf[kMaxLanesF];
    hn::Store(v, d, buf);
    std::memcpy(gx + i, buf, (n - i) * sizeof(float));
  };
  VF acc = hn::Zero(d);
  if (kind == 1) {
    for (size_t i = 0; i < n; i += N) acc = hn::Add(acc, load(g, i));
  } else {
    for (size_t i = 0; i < n; i += N) acc = hn::MulAdd(load(g, i), load(y, i), acc);
  }
  const VF s = hn::SumOfLanes(d, acc);
  for (size_t i = 0; i < n; i += N) {
    const VF gv = load(g, i), yv = load(y, i);
    VF r;
    if (kind == 1) {
      r = hn::NegMulAdd(ExpF(d, yv), s, gv);
    } else {
      r = hn::Mul(yv, hn::Sub(gv, s));
      if (kind == 2) r = hn::Neg(r);
    }
    store(r, i);
  }
}

// ---- GLU halves: y = a * sigmoid(b) --------------------------------------------------------------------
void GluForwardF32(const float* a, const float* b, float* y, size_t n) {
  const DF d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(hn::Mul(hn::LoadU(d, a + i), SigmoidF(d, hn::LoadU(d, b + i))), d, y + i);
  if (i < n) {
    const size_t rem = n - i;
    HWY_ALIGN float ba[kMaxLanesF] = {};
    HWY_ALIGN float bb[kMaxLanesF] = {};
    std::memcpy(ba, a + i, rem * sizeof(float));
    std::memcpy(bb, b + i, rem * sizeof(float));
    hn::Store(hn::Mul(hn::Load(d, ba), SigmoidF(d, hn::Load(d, bb))), d, ba);
    std::memcpy(y + i, ba, rem * sizeof(float));
  }
}
// ga = g * sigmoid(b); gb = g * a * sigmoid(b) * (1 - sigmoid(b)).
void GluBackwardF32(const float* g, const float* a, const float* b, float* ga, float* gb, size_t n) {
  const DF d;
  const size_t N = hn::Lanes(d);
  auto body = [&](VF gv, VF av, VF bv, VF& oa, VF& ob) {
    VF s, oms;
    SigmoidPairF(d, bv, s, oms);
    oa = hn::Mul(gv, s);
    ob = hn::Mul(hn::Mul(oa, av), oms);
  };
  size_t i = 0;
  for (; i + N <= n; i += N) {
    VF oa, ob;
    body(hn::LoadU(d, g + i), hn::LoadU(d, a + i), hn::LoadU(d, b + i), oa, ob);
    hn::StoreU(oa, d, ga + i);
    hn::StoreU(ob, d, gb + i);
  }
  if (i < n) {
    const size_t rem = n - i;
    HWY_ALIGN float bg[kMaxLanesF] = {};
    HWY_ALIGN float ba[kMaxLanesF] = {};
    HWY_ALIGN float bb[kMaxLanesF] = {};
    std::memcpy(bg, g + i, rem * sizeof(float));
    std::memcpy(ba, a + i, rem * sizeof(float));
    std::memcpy(bb, b + i, rem * sizeof(float));
    VF oa, ob;
    body(hn::Load(d, bg), hn::Load(d, ba), hn::Load(d, bb), oa, ob);
    hn::Store(oa, d, bg);
    hn::Store(ob, d, ba);
    std::memcpy(ga + i, bg, rem * sizeof(float));
    std::memcpy(gb + i, ba, rem * sizeof(float));
  }
}

int64_t TargetF32() { return HWY_TARGET; }

}  // namespace actlab::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace actlab::kernels {
HWY_EXPORT(ActForwardF32);
HWY_EXPORT(ActBackwardF32);
HWY_EXPORT(SoftmaxRowF32);
HWY_EXPORT(SoftmaxBackwardRowF32);
HWY_EXPORT(GluForwardF32);
HWY_EXPORT(GluBackwardF32);
HWY_EXPORT(TargetF32);

namespace internal {
// Single-threaded SIMD entry points; the public functions add OpenMP and the reference switch.
void simd_act_forward(ActId id, const ParamValues& p, const float* x, float* y, int64_t n) {
  HWY_DYNAMIC_DISPATCH(ActForwardF32)(id, p, x, y, static_cast<size_t>(n));
}
void simd_act_backward(ActId id, const ParamValues& p, bool from_output, const float* g, const float* s, float* gi,
                       int64_t n) {
  HWY_DYNAMIC_DISPATCH(ActBackwardF32)(id, p, from_output, g, s, gi, static_cast<size_t>(n));
}
void simd_softmax_row(int kind, const float* x, float* y, int64_t n) {
  HWY_DYNAMIC_DISPATCH(SoftmaxRowF32)(kind, x, y, static_cast<size_t>(n));
}
void simd_softmax_backward_row(int kind, const float* g, const float* y, float* gx, int64_t n) {
  HWY_DYNAMIC_DISPATCH(SoftmaxBackwardRowF32)(kind, g, y, gx, static_cast<size_t>(n));
}
void simd_glu_forward(const float* a, const float* b, float* y, int64_t n) {
  HWY_DYNAMIC_DISPATCH(GluForwardF32)(a, b, y, static_cast<size_t>(n));
}
void simd_glu_backward(const float* g, const float* a, const float* b, float* ga, float* gb, int64_t n) {
  HWY_DYNAMIC_DISPATCH(GluBackwardF32)(g, a, b, ga, gb, static_cast<size_t>(n));
}
std::string simd_target_name() { return hwy::TargetName(HWY_DYNAMIC_DISPATCH(TargetF32)()); }
}  // namespace internal
}  // namespace actlab::kernels
#endif  // HWY_ONCE
