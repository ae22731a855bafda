// SIMD activation kernels (float): one source compiled for every x86-64 target by Highway's
// foreach_target.h and chosen at run time with HWY_DYNAMIC_DISPATCH.
//
// Every row's forward and backward mirrors the scalar function in activation_table.h: the same
// comparisons (ordered, so NaN takes the same branch as in the double code), the same limits at +-inf,
// and NaN propagated wherever the double code propagates it. Where the direct float formula would
// lose accuracy the kernel uses an equivalent, better conditioned one (each noted at the op); the tests
// in tests/kernels/ check every row against the double reference to 4 ulp.
//
// Cost per element is kept low (the ops with an exp are still compute-bound at 16M elements): Sigmoid, SiLU, Mish,
// tanh-GELU are one Exp and one Div each. Loop tails run through the same vector code on a padded
// stack buffer, so every element is computed by the same code path.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "kernels/activation_kernels.h"
#include "kernels/simd.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/activation_simd.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/cache_control.h>
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

// Error of the product a * b: a * b = p + TwoProdErrF(a, b, p) exactly (FMA, or Dekker's split).
template <class D, class V>
HWY_INLINE V TwoProdErrF(D d, V a, V b, V p) {
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

// Every exponential below shares one argument reduction: kf = x log2(e) + 1.5 * 2^23 rounds x log2(e) to
// the nearest integer q, held in kf's low mantissa bits (no float->int conversion and its overflow
// fix-ups), x = q ln2 + r with |r| <= ln2 / 2 (Cody-Waite, exact for |q| < 512), e^r from Highway's
// polynomial (< 1 ulp), and 2^q made by shifting kf's bits into the exponent field.
constexpr float kLog2e = 1.442695040888963407359924681f;
constexpr float kRoundMagic = 12582912.0f;  // 1.5 * 2^23
constexpr float kTwoM64 = 5.421010862427522e-20f;  // 2^-64

// max(c, x) and min(c, x) that return x when x is NaN (x86 max/min return the second operand then).
template <class D, class V>
HWY_INLINE V MaxNaN(D d, V c, V x) {
#if HWY_ARCH_X86 && HWY_TARGET != HWY_SCALAR && HWY_TARGET != HWY_EMU128
  (void)d;
  return hn::Max(c, x);
#else
  (void)d;
  return hn::IfThenElse(hn::Lt(x, c), c, x);
#endif
}
template <class D, class V>
HWY_INLINE V MinNaN(D d, V c, V x) {
#if HWY_ARCH_X86 && HWY_TARGET != HWY_SCALAR && HWY_TARGET != HWY_EMU128
  (void)d;
  return hn::Min(c, x);
#else
  (void)d;
  return hn::IfThenElse(hn::Gt(x, c), c, x);
#endif
}
// m ? g : +0, as a bitwise And with the mask. IfThenElseZero(m, g) lets the compiler fold the load of g into
// a zero-masking load (AVX-512), and streams read that way ran at 0.4-0.5 of copy bandwidth at 16M elements
// (Hardtanh backward: 50 GB/s against ReLU's 121 in the same run); the And keeps the load whole.
template <class D, class V, class M>
HWY_INLINE V KeepWhere(D d, M m, V g) {
  return hn::And(hn::VecFromMask(d, m), g);
}
// m ? +0 : g, the same way.
template <class D, class V, class M>
HWY_INLINE V KeepUnless(D d, M m, V g) {
  return hn::AndNot(hn::VecFromMask(d, m), g);
}
// r = x - q ln2 and kf (see above).
template <class D, class V>
HWY_INLINE V ExpReduceQ(D d, V x, V& kf) {
  const V magic = hn::Set(d, kRoundMagic);
  kf = hn::MulAdd(x, hn::Set(d, kLog2e), magic);
  const V qf = hn::Sub(kf, magic);
  const V r = hn::MulAdd(qf, hn::Set(d, -0.693145751953125f), x);
  return hn::MulAdd(qf, hn::Set(d, -1.428606765330187045e-6f), r);
}
// 2^(q + kBias) from kf, for q + kBias in [-126, 127].
template <int kBias, class D, class V>
HWY_INLINE V Pow2Q(D d, V kf) {
  const hn::RebindToSigned<D> di;
  return hn::BitCast(d, hn::Add(hn::ShiftLeft<23>(hn::BitCast(di, kf)), hn::Set(di, (127 + kBias) << 23)));
}
// q as an integer vector.
template <class D, class V>
HWY_INLINE auto QInt(D d, V kf) {
  const hn::RebindToSigned<D> di;
  return hn::Sub(hn::BitCast(di, kf), hn::BitCast(di, hn::Set(d, kRoundMagic)));
}
// h(r) = (e^r - 1) / r for |r| <= ln2/2: a degree-5 polynomial, the last two coefficients 1 (Chebyshev fit
// of (e^r - 1 - r) / r^2, abs error 6.5e-8 there; e^r = 1 + r h(r) has max error 0.74 ulp in float,
// measured). Horner: 5 FMAs, against Highway's 7 operations plus an add.
template <class D, class V>
HWY_INLINE V ExpH(D d, V r) {
  V h = hn::Set(d, 0.0013926184f);
  h = hn::MulAdd(h, r, hn::Set(d, 0.00836317893f));
  h = hn::MulAdd(h, r, hn::Set(d, 0.0416665561f));
  h = hn::MulAdd(h, r, hn::Set(d, 0.166665763f));
  h = hn::MulAdd(h, r, hn::Set(d, 0.5f));
  return hn::MulAdd(h, r, hn::Set(d, 1.0f));
}
// e^r - 1 and e^r for |r| <= ln2/2.
template <class D, class V>
HWY_INLINE V ExpM1Poly(D d, V r) {
  return hn::Mul(ExpH(d, r), r);
}
template <class D, class V>
HWY_INLINE V ExpPoly1(D d, V r) {
  return hn::MulAdd(ExpH(d, r), r, hn::Set(d, 1.0f));
}

// e^x for all x: 0 below about -103.97, +inf above the float range, NaN in -> NaN out (Highway's Exp maps
// NaN to 0 and is not defined above 104). Max error 1 ulp, subnormal results rounded once (2^q applied
// in two steps). x is clamped to [-120, 89] first, where both ends give 0 and inf.
template <class D, class V>
HWY_INLINE V ExpF(D d, V x) {
  hn::impl::ExpImpl<float> impl;
  x = MinNaN(d, hn::Set(d, 89.0f), MaxNaN(d, hn::Set(d, -120.0f), x));
  V kf;
  const V r = ExpReduceQ(d, x, kf);
  return impl.LoadExpShortRange(d, ExpPoly1(d, r), QInt(d, kf));
}
// e^x for x <= 0 or NaN (x <= 40 works): (p 2^(q+64)) 2^-64, so results in the subnormal range are
// rounded once, by the last multiplication; x is clamped at -120, where e^x rounds to 0.
template <class D, class V>
HWY_INLINE V ExpNegF(D d, V x) {
  V kf;
  const V r = ExpReduceQ(d, MaxNaN(d, hn::Set(d, -120.0f), x), kf);
  const V p1 = ExpPoly1(d, r);
  return hn::Mul(hn::Mul(p1, Pow2Q<64>(d, kf)), hn::Set(d, kTwoM64));
}
// e^x 2^64 for x <= 0 or NaN (x >= -120 after the clamp): ExpNegF without its final scaling, so no rounding
// after the polynomial's, one multiplication fewer, and a normal float for every x (e^-120 2^64 ~ 1.4e-33).
// The softmax rows take their exps this way and apply the 2^-64 with 1 / sum: one rounding for a subnormal y
// instead of two.
template <class D, class V>
HWY_INLINE V ExpNegTimes2p64F(D d, V x) {
  V kf;
  const V r = ExpReduceQ(d, MaxNaN(d, hn::Set(d, -120.0f), x), kf);
  return hn::Mul(ExpPoly1(d, r), Pow2Q<64>(d, kf));
}
// e^x and m * e^x for x <= 0, the product with one rounding in the normal range (m * (1 + p(r)) 2^(q+64))
// before the final scaling by 2^-64, also where e^x alone would already be subnormal; needs
// |m| e^x 2^64 finite (|m| < 2^60 or x < -44). m * 0 below -120 (NaN for m = inf).
template <class D, class V>
HWY_INLINE void ExpNegAndScaledF(D d, V x, V m, V& e, V& me) {
  V kf;
  const V r = ExpReduceQ(d, MaxNaN(d, hn::Set(d, -120.0f), x), kf);
  const V ps = hn::Mul(ExpPoly1(d, r), Pow2Q<64>(d, kf));
  const V tm64 = hn::Set(d, kTwoM64);
  e = hn::Mul(ps, tm64);
  me = hn::IfThenElse(hn::Lt(x, hn::Set(d, -120.0f)), hn::Mul(m, hn::Zero(d)), hn::Mul(hn::Mul(m, ps), tm64));
}
// e^x - 1, NaN propagates; x is clamped to [-87, 88.3] (so +-inf give -1 and 2.2e38: callers use it
// where x > 88.3 is masked, or where e^x - 1 enters as e / (e + 2)). Computed as p * 2^q + (2^q - 1)
// with p = e^r - 1 on the reduced argument: one rounding after the polynomial, no cancellation near 0.
template <class D, class V>
HWY_INLINE V Expm1F(D d, V x) {
  x = MinNaN(d, hn::Set(d, 88.3f), MaxNaN(d, hn::Set(d, -87.0f), x));
  V kf;
  const V p = ExpM1Poly(d, ExpReduceQ(d, x, kf));
  const V t = Pow2Q<0>(d, kf);
  return hn::MulAdd(p, t, hn::Sub(t, hn::Set(d, 1.0f)));
}
// log(1 + u) for u in [0, 1] or NaN: u + u^2 R(u), R a degree-8 polynomial (Chebyshev fit of
// (log1p(u) - u) / u^2 on [0, 1], abs error 2.9e-8; max error 1.2 ulp in float, measured). No division.
template <class D, class V>
HWY_INLINE V Log1pF(D d, V u) {
  V r = hn::Set(d, -0.00446621142f);
  r = hn::MulAdd(r, u, hn::Set(d, 0.0252240542f));
  r = hn::MulAdd(r, u, hn::Set(d, -0.0667577237f));
  r = hn::MulAdd(r, u, hn::Set(d, 0.115618452f));
  r = hn::MulAdd(r, u, hn::Set(d, -0.158475652f));
  r = hn::MulAdd(r, u, hn::Set(d, 0.19854106f));
  r = hn::MulAdd(r, u, hn::Set(d, -0.249865264f));
  r = hn::MulAdd(r, u, hn::Set(d, 0.333328426f));
  r = hn::MulAdd(r, u, hn::Set(d, -0.49999997f));
  return hn::MulAdd(hn::Mul(u, u), r, u);
}
// tanh(x), |error| ~ 2 ulp: e / (e + 2) with e = expm1(2|x|) (2.2e38 beyond |x| = 44, giving 1).
template <class D, class V>
HWY_INLINE V TanhF(D d, V x) {
  const V a = hn::Abs(x);
  const V e = Expm1F(d, hn::Add(a, a));
  return hn::CopySignToAbs(hn::Div(e, hn::Add(e, hn::Set(d, 2.0f))), x);
}
// x - tanh(x) without cancellation, and tanh(x) with it, for |x| < 1 from an odd polynomial:
//   x - tanh(x) = x^3 (1/3 + x^2 Q(x^2)),  Q of degree 7 (Chebyshev fit on x^2 in [0, 1], abs error 7e-10),
// with x^3 from the exact x^2 = hh + hl and 1/3 as two floats (max 1.6 ulp, measured); for |x| >= 1,
//   |x| - tanh|x| = (|x| - 1) + 2z / (1 + z),  z = e^(-2|x|)  (|x| - 1 exact, both terms >= 0).
// One Exp and one Div (the polynomial lanes' results are blended in).
template <class D, class V>
HWY_INLINE void TanhShrinkParts(D d, V x, V& shrink, V& tanh_out) {
  const V a = hn::Abs(x);
  const V one = hn::Set(d, 1.0f);
  // |x| >= 1 (and NaN, inf)
  const V z = ExpNegF(d, hn::Neg(hn::Add(a, a)));
  const V w = hn::Div(hn::Add(z, z), hn::Add(one, z));  // 1 - tanh|x|
  const V big_s = hn::Add(hn::Sub(a, one), w);
  const V big_t = hn::Sub(one, w);
  // |x| < 1
  const V hh = hn::Mul(a, a);
  const V hl = TwoProdErrF(d, a, a, hh);
  const V a3 = hn::MulAdd(a, hh, hn::Mul(a, hl));
  V q = hn::Set(d, 5.78718973e-05f);
  q = hn::MulAdd(q, hh, hn::Set(d, -0.000374280789f));
  q = hn::MulAdd(q, hh, hn::Set(d, 0.00129966822f));
  q = hn::MulAdd(q, hh, hn::Set(d, -0.00352509879f));
  q = hn::MulAdd(q, hh, hn::Set(d, 0.00884704851f));
  q = hn::MulAdd(q, hh, hn::Set(d, -0.0218675267f));
  q = hn::MulAdd(q, hh, hn::Set(d, 0.0539681613f));
  q = hn::MulAdd(q, hh, hn::Set(d, -0.133333325f));
  const V wq = hn::MulAdd(hh, q, hn::Set(d, -9.934107758624577e-09f));  // x^2 Q + (1/3 - float(1/3))
  const V small_s = hn::MulAdd(a3, hn::Set(d, 0.3333333432674408f), hn::Mul(a3, wq));
  const auto small = hn::Lt(a, one);
  shrink = hn::CopySignToAbs(hn::IfThenElse(small, small_s, big_s), x);
  tanh_out = hn::CopySignToAbs(hn::IfThenElse(small, hn::Sub(a, small_s), big_t), x);
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

// ---- one struct per row: Fwd(x), Bwd(g, saved) --------------------------------------------------------
struct OpReLU {
  explicit OpReLU(const ParamValues&) {}
  // x < 0 ? 0 : x: NaN and -0.0 pass through, as clamp_min.
  HWY_INLINE VF Fwd(DF d, VF x) const { return hn::IfThenZeroElse(hn::Lt(x, hn::Zero(d)), x); }
  HWY_INLINE VF Bwd(DF d, VF g, VF s) const { return KeepUnless(d, hn::Le(s, hn::Zero(d)), g); }
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
  static constexpr bool kComputeBoundFwd = true;
  explicit OpSigmoid(const ParamValues&) {}
  HWY_INLINE VF Fwd(DF d, VF x) const { return SigmoidF(d, x); }
  HWY_INLINE VF Bwd(DF d, VF g, VF y) const { return hn::Mul(hn::Mul(g, hn::Sub(hn::Set(d, 1.0f), y)), y); }
};

struct OpTanh {
  static constexpr bool kComputeBoundFwd = true;
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
  static constexpr bool kComputeBoundFwd = true;
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
  static constexpr bool kComputeBoundFwd = true;
  static constexpr bool kComputeBoundBwd = true;
  explicit OpGeluErf(const ParamValues&) {}
  // exp(-x^2/2), with the low part of x^2 applied as (1 - hl/2).
  HWY_INLINE VF Gauss(DF d, VF x) const {
    const VF hh = hn::Mul(x, x);
    const VF hl = hn::IfThenElseZero(hn::Lt(hn::Abs(x), hn::Set(d, 16.0f)), TwoProdErrF(d, x, x, hh));
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
  static constexpr bool kComputeBoundFwd = true;
  static constexpr bool kComputeBoundBwd = true;
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
  static constexpr bool kComputeBoundFwd = true;
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
  static constexpr bool kComputeBoundFwd = true;
  static constexpr bool kComputeBoundBwd = true;
  explicit OpMish(const ParamValues&) {}
  // e = exp(-|x|) given.
  HWY_INLINE void Parts(DF d, VF x, VF e, VF& num, VF& den, VF& dmn, hn::Mask<DF>& neg) const {
    const VF one = hn::Set(d, 1.0f), two = hn::Set(d, 2.0f);
    neg = hn::Lt(x, hn::Zero(d));
    const VF e2 = hn::Add(e, e);
    num = hn::IfThenElse(neg, hn::Mul(e, hn::Add(e, two)), hn::Add(one, e2));
    dmn = hn::IfThenElse(neg, two, hn::Mul(e2, e));  // den - num
    den = hn::Add(num, dmn);
  }
  HWY_INLINE VF Fwd(DF d, VF x) const {
    // x * num, with x * e formed before any subnormal rounding for x < 0 (num = e (e + 2)).
    VF e, xe, num, den, dmn;
    ExpNegAndScaledF(d, hn::Neg(hn::Abs(x)), x, e, xe);
    hn::Mask<DF> neg;
    Parts(d, x, e, num, den, dmn, neg);
    const VF xnum = hn::IfThenElse(neg, hn::Mul(xe, hn::Add(e, hn::Set(d, 2.0f))), hn::Mul(x, num));
    return hn::Div(xnum, den);
  }
  // d/dx = t + x sigmoid(x) (1 - t^2), t = num/den, 1 - t^2 = (den - num)(den + num)/den^2,
  // sigmoid = sn / (1 + e) (sn = e for x < 0, 1 otherwise): one Div of den^2 (1 + e) in [1, 50].
  HWY_INLINE VF Bwd(DF d, VF g, VF x) const {
    VF num, den, dmn;
    hn::Mask<DF> neg;
    const VF e = ExpNegF(d, hn::Neg(hn::Abs(x)));
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
  static constexpr bool kComputeBoundFwd = true;
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

// |x| > l, as a mask: x < -l || x > l with the thresholds rounded inward (FUp(-l) = -FDown(l)); false at NaN.
HWY_INLINE hn::Mask<DF> OutsideShrink(DF d, VF x, float gt) { return hn::Gt(hn::Abs(x), hn::Set(d, gt)); }

// x - l for x > l, x + l for x < -l, else 0 (NaN -> 0 as the table), with l = hi + lo the double lambd as two
// floats: x - copysign(hi, x) - copysign(lo, x) is (x - hi) - lo or (x + hi) + lo bit for bit. kLo: lo != 0
// (lambd not a float, e.g. 0.1); the default 0.5 needs one subtraction.
template <bool kLo>
struct OpSoftshrinkT {
  float gt;  // |x| > l as a float comparison
  F2 l;
  explicit OpSoftshrinkT(const ParamValues& p) : gt(FDown(p[0])), l(Split(p[0])) {}
  HWY_INLINE VF Fwd(DF d, VF x) const {
    const VF sgn = hn::And(x, hn::Set(d, -0.0f));
    VF r = hn::Sub(x, hn::Xor(hn::Set(d, l.hi), sgn));
    if constexpr (kLo) r = hn::Sub(r, hn::Xor(hn::Set(d, l.lo), sgn));
    return KeepWhere(d, OutsideShrink(d, x, gt), r);
  }
  // (x < -l || x > l) ? g : 0; 0 at NaN.
  HWY_INLINE VF Bwd(DF d, VF g, VF x) const { return KeepWhere(d, OutsideShrink(d, x, gt), g); }
};

struct OpHardshrink {
  float ge, le, gt;  // x >= -l, x <= l, |x| > l
  explicit OpHardshrink(const ParamValues& p) : ge(FUp(-p[0])), le(FDown(p[0])), gt(FDown(p[0])) {}
  // (-l <= x <= l) ? 0 : x (NaN stays NaN); backward (x < -l || x > l) ? g : 0 (0 at NaN).
  HWY_INLINE VF Fwd(DF d, VF x) const {
    return hn::IfThenZeroElse(hn::And(hn::Ge(x, hn::Set(d, ge)), hn::Le(x, hn::Set(d, le))), x);
  }
  HWY_INLINE VF Bwd(DF d, VF g, VF x) const { return KeepWhere(d, OutsideShrink(d, x, gt), g); }
};

struct OpTanhshrink {
  static constexpr bool kComputeBoundFwd = true;
  static constexpr bool kComputeBoundBwd = true;
  explicit OpTanhshrink(const ParamValues&) {}
  HWY_INLINE VF Fwd(DF d, VF x) const {
    VF s, t;
    TanhShrinkParts(d, x, s, t);
    return s;
  }
  HWY_INLINE void FwdBuf(DF d, VF x, VF& y, VF& t) const { TanhShrinkParts(d, x, y, t); }
  // g - g (1 - t^2) = g t^2, without the cancellation; t from the same accurate parts (~1 ulp).
  HWY_INLINE VF Bwd(DF d, VF g, VF x) const {
    VF s, t;
    TanhShrinkParts(d, x, s, t);
    return hn::Mul(hn::Mul(g, t), t);
  }
};

// Tanhshrink's backward from the saved t = tanh(x) (Saves::Buffer): g t^2, no recomputation. Its forward
// with the buffer is TanhShrinkParts (ForwardWithBufferF32).
struct OpTanhshrinkFromTanh {
  HWY_INLINE VF Fwd(DF d, VF x) const { return x; }  // never called
  HWY_INLINE VF Bwd(DF d, VF g, VF t) const { return hn::Mul(hn::Mul(g, t), t); }
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
    return KeepWhere(d, hn::And(hn::Gt(s, hn::Set(d, s_gt)), hn::Lt(s, hn::Set(d, s_lt))), g);
  }
};

// Hardsigmoid and Hardswish divide by 6 (and 3) as a multiply by the rounded reciprocal: one more rounding
// (< 1 ulp more), but the divider's throughput (one ymm division per ~3.5 cycles on Zen 3) made these
// memory-bound ops compute-bound. Exact where the kinks are: 6 * (float)(1/6) rounds to 1, -1.5 * (float)(1/3)
// to -0.5.
constexpr float kSixth = static_cast<float>(1.0 / 6.0);
constexpr float kThird = static_cast<float>(1.0 / 3.0);
// min(max(x + 3, 0), 6), NaN kept.
HWY_INLINE VF HardRelu6Shifted(DF d, VF x) {
  return MinNaN(d, hn::Set(d, 6.0f), MaxNaN(d, hn::Zero(d), hn::Add(x, hn::Set(d, 3.0f))));
}

struct OpHardsigmoid {
  explicit OpHardsigmoid(const ParamValues&) {}
  HWY_INLINE VF Fwd(DF d, VF x) const { return hn::Mul(HardRelu6Shifted(d, x), hn::Set(d, kSixth)); }
  // -3 < x < 3 ? g / 6 : 0 (0 at NaN).
  HWY_INLINE VF Bwd(DF d, VF g, VF x) const {
    return KeepWhere(d, hn::Lt(hn::Abs(x), hn::Set(d, 3.0f)), hn::Mul(g, hn::Set(d, kSixth)));
  }
};

struct OpHardswish {
  explicit OpHardswish(const ParamValues&) {}
  HWY_INLINE VF Fwd(DF d, VF x) const {
    return hn::Mul(x, hn::Mul(HardRelu6Shifted(d, x), hn::Set(d, kSixth)));  // x * (v / 6): no overflow of x * v
  }
  // x/3 + 1/2 as (x + 1.5) / 3: exact x + 1.5 near the zero at -1.5.
  HWY_INLINE VF Bwd(DF d, VF g, VF x) const {
    const VF mid = hn::Mul(g, hn::Mul(hn::Add(x, hn::Set(d, 1.5f)), hn::Set(d, kThird)));
    // x < -3: 0; -3 <= x < 3: mid (Hardswish'(-3) = -0.5 as PyTorch 1.13.1); x >= 3: g; NaN: NaN (mid).
    return KeepUnless(d, hn::Lt(x, hn::Set(d, -3.0f)), hn::IfThenElse(hn::Ge(x, hn::Set(d, 3.0f)), g, mid));
  }
};

struct OpLogSigmoid {
  static constexpr bool kComputeBoundFwd = true;
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
  // The recording forward: y and the derivative sigmoid(-x) = (x < 0 ? 1 : z) / (1 + z), from one exp.
  HWY_INLINE void FwdBuf(DF d, VF x, VF& y, VF& deriv) const {
    const VF z = ExpNegF(d, hn::Neg(hn::Abs(x)));
    const auto neg = hn::Lt(x, hn::Zero(d));
    y = hn::Sub(hn::IfThenElseZero(neg, x), Log1pF(d, z));
    deriv = hn::Div(hn::IfThenElse(neg, hn::Set(d, 1.0f), z), hn::Add(hn::Set(d, 1.0f), z));
  }
};

// LogSigmoid's backward from its saved derivative (Saves::Buffer): g deriv.
struct OpLogSigmoidFromDeriv {
  HWY_INLINE VF Fwd(DF d, VF x) const { return x; }  // never called
  HWY_INLINE VF Bwd(DF d, VF g, VF deriv) const { return hn::Mul(g, deriv); }
};

struct OpThreshold {
  float le, value;
  explicit OpThreshold(const ParamValues& p) : le(FDown(p[0])), value(static_cast<float>(p[1])) {}
  HWY_INLINE VF Fwd(DF d, VF x) const { return hn::IfThenElse(hn::Le(x, hn::Set(d, le)), hn::Set(d, value), x); }
  HWY_INLINE VF Bwd(DF d, VF g, VF x) const { return KeepUnless(d, hn::Le(x, hn::Set(d, le)), g); }
};

// ---- loops -------------------------------------------------------------------------------------------
constexpr size_t kMaxLanesF = 64;  // >= any x86 target's float lanes

// Each loop: whole vectors (four per iteration), then the tail through the same vector code on a padded
// stack buffer. With `stream`, the output is written with aligned streaming stores (see kStreamElements
// in simd.h); the elements before the first aligned vector go through the buffer path too.
// vec(i): the result vector for lanes [i, i + Lanes); partial(i, len): computes and stores lanes
// [i, i + len), len < Lanes. Returns where the tail starts.
template <class Vec, class Partial>
HWY_INLINE size_t StreamLoop(DF d, float* out, size_t n, bool stream, const Vec& vec, const Partial& partial) {
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  if (stream) {
    const size_t mis = (reinterpret_cast<uintptr_t>(out) / sizeof(float)) % N;
    i = mis == 0 ? 0 : std::min(n, N - mis);
    if (i > 0) partial(size_t{0}, i);
    for (; i + N <= n; i += N) hn::Stream(vec(i), d, out + i);
    hwy::FlushStream();
    return i;
  }
  // Four vectors per iteration: with the instructions scheduled before register allocation (CMake gives this
  // file -fschedule-insns -fsched-pressure under GCC) their dependency chains interleave, so the long latency
  // chain of an Exp + Div no longer fills the out-of-order window with one vector's work.
  for (; i + 4 * N <= n; i += 4 * N) {
    const VF a = vec(i);
    const VF b = vec(i + N);
    const VF c = vec(i + 2 * N);
    const VF e = vec(i + 3 * N);
    hn::StoreU(a, d, out + i);
    hn::StoreU(b, d, out + i + N);
    hn::StoreU(c, d, out + i + 2 * N);
    hn::StoreU(e, d, out + i + 3 * N);
  }
  for (; i + N <= n; i += N) hn::StoreU(vec(i), d, out + i);
  return i;
}

template <class Op>
HWY_NOINLINE void PartialFwd(const Op& op, const float* x, float* y, size_t len) {
  const DF d;
  HWY_ALIGN float buf[kMaxLanesF] = {};
  std::memcpy(buf, x, len * sizeof(float));
  hn::Store(op.Fwd(d, hn::Load(d, buf)), d, buf);
  std::memcpy(y, buf, len * sizeof(float));
}
template <class Op>
HWY_NOINLINE void PartialBwd(const Op& op, const float* g, const float* s, float* gi, size_t len) {
  const DF d;
  HWY_ALIGN float bg[kMaxLanesF] = {};
  HWY_ALIGN float bs[kMaxLanesF] = {};
  std::memcpy(bg, g, len * sizeof(float));
  std::memcpy(bs, s, len * sizeof(float));
  hn::Store(op.Bwd(d, hn::Load(d, bg), hn::Load(d, bs)), d, bg);
  std::memcpy(gi, bg, len * sizeof(float));
}

// Streaming stores pay off where the loop runs near memory bandwidth: they save reading each output line
// before writing it. Where the arithmetic per element is what limits the loop (an Exp, a Div, a Log1p:
// in-cache speed below about twice the memory's), they cost instead: at 16M elements, 2 threads, plain
// stores ran Sigmoid forward at 76-78 GB/s against 59-60 streamed, ELU forward 82-84 against 60-62,
// GELU 36 against 26-29, Mish backward 51-55 against 44-50 (alternating builds). An op marks the
// passes its arithmetic bounds with kComputeBoundFwd / kComputeBoundBwd; those never stream.
template <class Op>
constexpr bool ComputeBoundFwd() {
  if constexpr (requires { Op::kComputeBoundFwd; }) return Op::kComputeBoundFwd;
  return false;
}
template <class Op>
constexpr bool ComputeBoundBwd() {
  if constexpr (requires { Op::kComputeBoundBwd; }) return Op::kComputeBoundBwd;
  return false;
}

template <class Op>
HWY_NOINLINE void LoopFwd(const Op& op, const float* x, float* y, size_t n, bool stream) {
  const DF d;
  stream = stream && !ComputeBoundFwd<Op>();
  auto partial = [&](size_t i, size_t len) { PartialFwd(op, x + i, y + i, len); };
  const size_t i = StreamLoop(d, y, n, stream, [&](size_t j) { return op.Fwd(d, hn::LoadU(d, x + j)); },
                              partial);
  if (i < n) partial(i, n - i);
}

template <class Op>
HWY_NOINLINE void LoopBwd(const Op& op, const float* g, const float* s, float* gi, size_t n, bool stream) {
  const DF d;
  stream = stream && !ComputeBoundBwd<Op>();
  auto partial = [&](size_t i, size_t len) { PartialBwd(op, g + i, s + i, gi + i, len); };
  const size_t i = StreamLoop(
      d, gi, n, stream, [&](size_t j) { return op.Bwd(d, hn::LoadU(d, g + j), hn::LoadU(d, s + j)); },
      partial);
  if (i < n) partial(i, n - i);
}

// A Saves::Buffer row's recording forward (op.FwdBuf gives y and the buffer), four vectors at a time as
// StreamLoop; the tail through padded buffers, by the same vector code.
template <class Op>
void LoopFwdBuf(const Op& op, const float* x, float* y, float* buf, size_t n) {
  const DF d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {
    VF v[4], b[4];
    for (size_t k = 0; k < 4; ++k) op.FwdBuf(d, hn::LoadU(d, x + i + k * N), v[k], b[k]);
    for (size_t k = 0; k < 4; ++k) {
      hn::StoreU(v[k], d, y + i + k * N);
      hn::StoreU(b[k], d, buf + i + k * N);
    }
  }
  for (; i < n; i += N) {
    const size_t len = std::min(N, n - i);
    HWY_ALIGN float bx[kMaxLanesF] = {};
    std::memcpy(bx, x + i, len * sizeof(float));
    VF v, b;
    op.FwdBuf(d, hn::Load(d, bx), v, b);
    HWY_ALIGN float bv[kMaxLanesF], bb[kMaxLanesF];
    hn::Store(v, d, bv);
    hn::Store(b, d, bb);
    std::memcpy(y + i, bv, len * sizeof(float));
    std::memcpy(buf + i, bb, len * sizeof(float));
  }
}
void ForwardWithBufferF32(ActId id, const float* x, float* y, float* buf, size_t n) {
  if (id == ActId::Tanhshrink) return LoopFwdBuf(OpTanhshrink({}), x, y, buf, n);
  if (id == ActId::LogSigmoid) return LoopFwdBuf(OpLogSigmoid({}), x, y, buf, n);
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
    case ActId::Softshrink:
      if (Split(p[0]).lo != 0) return f(OpSoftshrinkT<true>(p));
      return f(OpSoftshrinkT<false>(p));
    case ActId::Hardshrink: return f(OpHardshrink(p));
    case ActId::Tanhshrink:
      if (from_output) return f(OpTanhshrinkFromTanh());
      return f(OpTanhshrink(p));
    case ActId::Hardtanh: return f(OpClamp(p[0], p[1]));
    case ActId::ReLU6: return f(OpClamp(0.0, 6.0));
    case ActId::Hardsigmoid: return f(OpHardsigmoid(p));
    case ActId::Hardswish: return f(OpHardswish(p));
    case ActId::LogSigmoid:
      if (from_output) return f(OpLogSigmoidFromDeriv());
      return f(OpLogSigmoid(p));
    case ActId::Threshold: return f(OpThreshold(p));
    default: return;
  }
}

void ActForwardF32(ActId id, const ParamValues& p, const float* x, float* y, size_t n, bool stream) {
  WithOp(id, p, false, [&](const auto& op) { LoopFwd(op, x, y, n, stream); });
}
void ActBackwardF32(ActId id, const ParamValues& p, bool from_output, const float* g, const float* s, float* gi,
                    size_t n, bool stream) {
  WithOp(id, p, from_output, [&](const auto& op) { LoopBwd(op, g, s, gi, n, stream); });
}

// ---- softmax over a contiguous row -------------------------------------------------------------------
// Row sums are taken in double (DoubleSum, RowGradSumF32), column sums (the strided kernels below, one sum per
// lane) are compensated per lane (Knuth's branch-free TwoSum: the exact rounding error of every addition,
// whatever the order of magnitudes, summed apart, so the sum s + c is exact up to O(n u^2) sum |v|; Kahan's
// Fast2Sum correction is not, when partial sums cancel); the per-row log and reciprocal are taken in double.
// The only float roundings left per element are its exp (of the rounded x - max, as in PyTorch) and the final
// operation.
struct CompensatedAcc {
  VF s, c;
  explicit CompensatedAcc(DF d) : s(hn::Zero(d)), c(hn::Zero(d)) {}
  // The sum of one value: what Add gives from zero for any v that is not infinite (the column kernels' first
  // term, whose own TwoSum is six adds of nothing).
  CompensatedAcc(DF d, VF first) : s(first), c(hn::Zero(d)) {}
  HWY_INLINE void Add(VF v) {
    const VF t = hn::Add(s, v);
    const VF bp = hn::Sub(t, s);
    const VF err = hn::Add(hn::Sub(s, hn::Sub(t, bp)), hn::Sub(v, bp));
    c = hn::Add(c, err);
    s = t;
  }
  // Sum of the lanes of s + c (+ extra) in double: each lane's (s + c) + extra, then the lanes added as
  // double vectors (one lane at a time in a scalar loop was a fifth of a 256-wide softmax row's time).
  double Total(DF d, VF extra) const {
#if HWY_TARGET == HWY_SCALAR
    return (static_cast<double>(hn::GetLane(s)) + static_cast<double>(hn::GetLane(c))) +
           static_cast<double>(hn::GetLane(extra));
#else
    const hn::Half<DF> dh;
    const hn::Rebind<double, decltype(dh)> dd;
    auto lane_sums = [&](auto half_of) {
      return hn::Add(hn::Add(hn::PromoteTo(dd, half_of(s)), hn::PromoteTo(dd, half_of(c))),
                     hn::PromoteTo(dd, half_of(extra)));
    };
    const auto t = hn::Add(lane_sums([&](VF v) { return hn::LowerHalf(dh, v); }),
                           lane_sums([&](VF v) { return hn::UpperHalf(dh, v); }));
    return hn::GetLane(hn::SumOfLanes(dd, t));
#endif
  }
};

// A sum of float vectors in double lanes: every float is exact in double, and n double additions err by at
// most n 2^-53 of the sum of magnitudes, far below float's resolution (the row kernels' sums; one AVX2 core,
// 256-float rows: cheaper than the compensated float sum's seven adds and its latency chain through s).
struct DoubleSum {
#if HWY_TARGET == HWY_SCALAR
  double t = 0;
  explicit DoubleSum(DF) {}
  HWY_INLINE void Add(VF v, VF w) { t += static_cast<double>(hn::GetLane(v)) + static_cast<double>(hn::GetLane(w)); }
  HWY_INLINE double Total() const { return t; }
#else
  using DH = hn::Half<DF>;
  using DD = hn::Rebind<double, DH>;
  hn::Vec<DD> lo, hi;
  explicit DoubleSum(DF) : lo(hn::Zero(DD())), hi(hn::Zero(DD())) {}
  // Adds v and w, lane by lane (the halves of each promoted and paired before they enter the two chains).
  HWY_INLINE void Add(VF v, VF w) {
    const DH dh;
    const DD dd;
    lo = hn::Add(lo, hn::Add(hn::PromoteTo(dd, hn::LowerHalf(dh, v)), hn::PromoteTo(dd, hn::LowerHalf(dh, w))));
    hi = hn::Add(hi, hn::Add(hn::PromoteTo(dd, hn::UpperHalf(dh, v)), hn::PromoteTo(dd, hn::UpperHalf(dh, w))));
  }
  HWY_INLINE double Total() const { return hn::GetLane(hn::SumOfLanes(DD(), hn::Add(lo, hi))); }
#endif
};

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
  auto store = [&](VF v, size_t i) {
    if (i + N <= n) return hn::StoreU(v, d, y + i);
    HWY_ALIGN float buf[kMaxLanesF];
    hn::Store(v, d, buf);
    std::memcpy(y + i, buf, (n - i) * sizeof(float));
  };
  // The max in four chains (one Max's latency per vector was the pass's bound), whole vectors, then the tail.
  VF vmax[4] = {hn::Set(d, -kInf), hn::Set(d, -kInf), hn::Set(d, -kInf), hn::Set(d, -kInf)};
  size_t i0 = 0;
  for (; i0 + 4 * N <= n; i0 += 4 * N)
    for (size_t k = 0; k < 4; ++k) vmax[k] = hn::Max(vmax[k], hn::Xor(hn::LoadU(d, x + i0 + k * N), sign));
  for (size_t i = i0; i < n; i += N) vmax[0] = hn::Max(vmax[0], load(i));
  const float m = hn::GetLane(hn::MaxOfLanes(d, hn::Max(hn::Max(vmax[0], vmax[1]), hn::Max(vmax[2], vmax[3]))));
  const VF vm = hn::Set(d, m);
  DoubleSum acc[2] = {DoubleSum(d), DoubleSum(d)};
  // x - m <= 0 (or NaN): the exps times 2^64 (ExpNegTimes2p64F); padded lanes (-inf) give e^-120 2^64, nothing
  // beside the sum's 2^64 (or more) in double.
  // Four exps at a time, so their latency chains interleave.
  for (i0 = 0; i0 + 4 * N <= n; i0 += 4 * N) {
    VF e[4];
    for (size_t k = 0; k < 4; ++k) e[k] = ExpNegTimes2p64F(d, hn::Sub(hn::Xor(hn::LoadU(d, x + i0 + k * N), sign), vm));
    acc[0].Add(e[0], e[2]);
    acc[1].Add(e[1], e[3]);
    if (kind != 1)
      for (size_t k = 0; k < 4; ++k) hn::StoreU(e[k], d, y + i0 + k * N);
  }
  for (size_t i = i0; i < n; i += N) {
    const VF e = ExpNegTimes2p64F(d, hn::Sub(load(i), vm));
    acc[0].Add(e, hn::Zero(d));
    if (kind != 1) store(e, i);
  }
  const double sum = acc[0].Total() + acc[1].Total();  // of e^(x - m) 2^64
  if (kind == 1) {
    // y = x - (m + log(sum)), with m + log(sum) as two floats hi + lo: x - hi is exact where y is small.
    const double c = static_cast<double>(m) + std::log(sum * 0x1p-64);  // exact scaling: log(1) is 0 exactly
    const F2 c2 = Split(c);
    const VF hi = hn::Set(d, c2.hi), lo = hn::Set(d, c2.lo);
    for (size_t i = 0; i < n; i += N) store(hn::Sub(hn::Sub(load(i), hi), lo), i);
  } else {
    const float invf = static_cast<float>(1.0 / sum);  // 2^-64 / the sum of e^(x - m): normal for any n < 2^62
    const VF inv = hn::Set(d, invf);
    size_t i = 0;
    for (; i + N <= n; i += N) hn::StoreU(hn::Mul(hn::LoadU(d, y + i), inv), d, y + i);
    for (; i < n; ++i) y[i] *= invf;
  }
}

// The softmax backward's two steps, shared by the row and column kernels. Sum: g (log_softmax) or g y
// with the product's rounding error (FMA) kept apart in perr.
struct SoftmaxGradSum {
  CompensatedAcc acc;
  VF perr;
  explicit SoftmaxGradSum(DF d) : acc(d), perr(hn::Zero(d)) {}
  // Started with the first term (see CompensatedAcc(d, first); an infinite product gives NaN either way).
  template <class Kind>
  SoftmaxGradSum(DF d, Kind kind, VF gv, VF yv)
      : acc(d, kind == 1 ? gv : hn::Mul(gv, yv)), perr(kind == 1 ? hn::Zero(d) : TwoProdErrF(d, gv, yv, acc.s)) {}
  template <class Kind>
  HWY_INLINE void Add(DF d, Kind kind, VF gv, VF yv) {
    if (kind == 1) return acc.Add(gv);
    const VF p = hn::Mul(gv, yv);
    acc.Add(p);
    perr = hn::Add(perr, TwoProdErrF(d, gv, yv, p));
  }
  // The lane sums as hi + lo (Fast2Sum: |s| >= |c + perr| up to rounding).
  HWY_INLINE void HiLo(VF& hi, VF& lo) const {
    const VF cc = hn::Add(acc.c, perr);
    hi = hn::Add(acc.s, cc);
    lo = hn::Sub(cc, hn::Sub(hi, acc.s));
  }
};
// gx from g, y and the sum as hi + lo.
template <class Kind>
HWY_INLINE VF SoftmaxGradF(DF d, Kind kind, VF gv, VF yv, VF shi, VF slo) {
  if (kind == 1) {
    // g - exp(y) s: the hi product first (fused, one rounding at the scale of the result where it
    // cancels), then the lo part. A log_softmax output is <= 0 (up to a rounding of 2^-24 m), where
    // ExpNegF equals ExpF.
    const VF ey = ExpNegF(d, yv);
    return hn::NegMulAdd(ey, slo, hn::NegMulAdd(ey, shi, gv));
  }
  const VF r = hn::Mul(yv, hn::Sub(hn::Sub(gv, shi), slo));
  return kind == 2 ? hn::Neg(r) : r;
}

// sum(g * y) (kind != 1) or sum(g) over a row, in double: a float product is exact in double, and n double
// additions err by at most n 2^-53 sum |g y|, below float's resolution for any row length a float tensor has.
// Four vector halves' chains at a time (the double FMA's latency, not its throughput, bounds one chain).
// Measured on one AVX2 core, 256-float rows in L1: 2.1 cycles per 8 floats, against 5.0 for the compensated
// float sum (Knuth's TwoSum, 7 adds per vector, and its chain through s) it replaces.
HWY_INLINE double RowGradSumF32(int kind, const float* g, const float* y, size_t n) {
#if HWY_TARGET == HWY_SCALAR
  double t = 0;
  for (size_t i = 0; i < n; ++i) t += kind == 1 ? static_cast<double>(g[i]) : static_cast<double>(g[i]) * y[i];
  return t;
#else
  const hn::Half<DF> dh;
  const hn::Rebind<double, decltype(dh)> dd;
  const size_t H = hn::Lanes(dh);
  auto term = [&](const float* pg, const float* py, auto acc) {
    const auto gd = hn::PromoteTo(dd, hn::LoadU(dh, pg));
    return kind == 1 ? hn::Add(acc, gd) : hn::MulAdd(gd, hn::PromoteTo(dd, hn::LoadU(dh, py)), acc);
  };
  auto a0 = hn::Zero(dd), a1 = a0, a2 = a0, a3 = a0;
  size_t i = 0;
  for (; i + 4 * H <= n; i += 4 * H) {
    a0 = term(g + i, y + i, a0);
    a1 = term(g + i + H, y + i + H, a1);
    a2 = term(g + i + 2 * H, y + i + 2 * H, a2);
    a3 = term(g + i + 3 * H, y + i + 3 * H, a3);
  }
  if (i < n) {  // the tail through zero-padded copies
    HWY_ALIGN float bg[kMaxLanesF] = {}, by[kMaxLanesF] = {};
    std::memcpy(bg, g + i, (n - i) * sizeof(float));
    std::memcpy(by, y + i, (n - i) * sizeof(float));
    a0 = term(bg, by, a0);
    a1 = term(bg + H, by + H, a1);
    a2 = term(bg + 2 * H, by + 2 * H, a2);
    a3 = term(bg + 3 * H, by + 3 * H, a3);
  }
  return hn::GetLane(hn::SumOfLanes(dd, hn::Add(hn::Add(a0, a1), hn::Add(a2, a3))));
#endif
}

// Backward over a contiguous row, from the saved output y; sum(g * y) (or sum(g)) in double (RowGradSumF32),
// applied as two floats.
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
  const F2 s2 = Split(RowGradSumF32(kind, g, y, n));
  const VF shi = hn::Set(d, s2.hi), slo = hn::Set(d, s2.lo);
  size_t i0 = 0;
  for (; i0 + 4 * N <= n; i0 += 4 * N) {  // four at a time: log_softmax's exps interleave
    VF r[4];
    for (size_t k = 0; k < 4; ++k)
      r[k] = SoftmaxGradF(d, kind, hn::LoadU(d, g + i0 + k * N), hn::LoadU(d, y + i0 + k * N), shi, slo);
    for (size_t k = 0; k < 4; ++k) hn::StoreU(r[k], d, gx + i0 + k * N);
  }
  for (size_t i = i0; i < n; i += N) store(SoftmaxGradF(d, kind, load(g, i), load(y, i), shi, slo), i);
}

// ---- softmax over a strided axis: [dim, inner] with inner > 1 ------------------------------------------
// Lanes run along inner: each lane is its own softmax over `dim` elements `stride` apart, with the row
// kernel's arithmetic per lane (max, exp, Knuth-compensated sum) except that the exp's argument x - max
// is not rounded (TwoSum; its error would be 2^-24 |x - max| relative in each term). Per lane, the
// sum s + c is then used without leaving float: 1 / (s + c) by one Newton step from 1/s with the exact
// FMA residual (error < 0.5 ulp + O(u^2), where the row kernel rounds a double reciprocal once), and for
// log_softmax m + log(s + c) in double per lane (once per column, not per element).
// ColBlockF32 handles exactly Lanes(d) columns; ColStripF32 runs a strip of any width, the tail lanes
// through a zero-padded copy so every column takes the same code.
HWY_INLINE VF ReciprocalOfPair(DF d, VF s, VF c) {
  const VF r0 = hn::Div(hn::Set(d, 1.0f), s);
  const VF res = hn::NegMulAdd(c, r0, hn::NegMulAdd(s, r0, hn::Set(d, 1.0f)));  // 1 - (s + c) r0
  return hn::MulAdd(r0, res, r0);
}

// e^(v - m) 2^64 without rounding the argument: v - m = a + r exactly (TwoSum), e^(v - m) = e^a (1 + r) (2^-24
// |v - m| relative error otherwise). r is NaN only where v or m is infinite; there it is dropped. The 2^64
// (ExpNegTimes2p64F) goes out with the reciprocal of the sum, and with the log of it for log_softmax.
HWY_INLINE VF ExpShifted(DF d, VF v, VF vmax) {
  const VF a = hn::Sub(v, vmax);
  const VF bp = hn::Sub(a, v);
  const VF r = hn::Add(hn::Sub(v, hn::Sub(a, bp)), hn::Sub(hn::Neg(vmax), bp));
  const VF ea = ExpNegTimes2p64F(d, a);  // a <= 0 or NaN
  return hn::MulAdd(ea, hn::IfThenZeroElse(hn::IsNaN(r), r), ea);
}

// log_softmax's per-column constant m + log(s + c), in double per lane, as two floats hi + lo (s + c is the
// sum of ExpShifted's values: 2^64 times the sum of the exps).
HWY_INLINE void LogSumHiLo(DF d, VF vmax, const CompensatedAcc& acc, VF& hi, VF& lo) {
  HWY_ALIGN float bm[kMaxLanesF], bs[kMaxLanesF], bc[kMaxLanesF];
  hn::Store(vmax, d, bm);
  hn::Store(acc.s, d, bs);
  hn::Store(acc.c, d, bc);
  for (size_t l = 0; l < hn::Lanes(d); ++l) {
    const double log_sum = std::log((static_cast<double>(bs[l]) + static_cast<double>(bc[l])) * 0x1p-64);
    const F2 c2 = Split(static_cast<double>(bm[l]) + log_sum);
    bm[l] = c2.hi;
    bs[l] = c2.lo;
  }
  hi = hn::Load(d, bm);
  lo = hn::Load(d, bs);
}

// A column block with its dim <= kSmallDim rows held in registers: x read once, y written once, no store and
// reload of the exponentials (Softmax2d over a few channels ran at a fifth of its in-cache speed at 16M
// elements with the three passes below). The same arithmetic in the same order as the general block.
// kDim is the row count as a compile-time constant, so the rows' arrays are registers (with a run-time
// count they lived on the stack: every row stored and reloaded).
constexpr size_t kSmallDim = 8;
// kB adjacent blocks of Lanes(d) columns at once: one block's chain (max, exp, sum, reciprocal, product) is
// long and short of work, and two in one basic block interleave (one AVX2 core, [4, 256] slices in L1, with the
// exps times 2^64 and the first term not added to zero: forward 21.3 -> 16.2 TSC cycles per vector).
template <size_t kDim, size_t kB>
HWY_INLINE void SoftmaxColBlockSmall(int kind, const float* x, float* y, size_t stride) {
  const DF d;
  const size_t N = hn::Lanes(d);
  const VF sign = hn::Set(d, kind == 2 ? -0.0f : 0.0f);
  VF v[kB][kDim], e[kB][kDim], vmax[kB];
  for (size_t b = 0; b < kB; ++b) {
    for (size_t k = 0; k < kDim; ++k) v[b][k] = hn::Xor(hn::LoadU(d, x + k * stride + b * N), sign);
    vmax[b] = v[b][0];
    for (size_t k = 1; k < kDim; ++k) vmax[b] = hn::Max(vmax[b], v[b][k]);
  }
  for (size_t b = 0; b < kB; ++b)
    for (size_t k = 0; k < kDim; ++k) e[b][k] = ExpShifted(d, v[b][k], vmax[b]);
  for (size_t b = 0; b < kB; ++b) {
    CompensatedAcc acc(d, e[b][0]);
    for (size_t k = 1; k < kDim; ++k) acc.Add(e[b][k]);
    if (kind == 1) {
      VF hi, lo;
      LogSumHiLo(d, vmax[b], acc, hi, lo);
      for (size_t k = 0; k < kDim; ++k)
        hn::StoreU(hn::Sub(hn::Sub(v[b][k], hi), lo), d, y + k * stride + b * N);  // v = x
    } else {
      const VF inv = ReciprocalOfPair(d, acc.s, acc.c);
      for (size_t k = 0; k < kDim; ++k) hn::StoreU(hn::Mul(e[b][k], inv), d, y + k * stride + b * N);
    }
  }
}

HWY_INLINE void SoftmaxColBlockF32(int kind, const float* x, float* y, size_t dim, size_t stride) {
  const DF d;
  const VF sign = hn::Set(d, kind == 2 ? -0.0f : 0.0f);
  VF vmax = hn::Set(d, -kInf);
  for (size_t k = 0; k < dim; ++k) vmax = hn::Max(vmax, hn::Xor(hn::LoadU(d, x + k * stride), sign));
  CompensatedAcc acc(d);
  for (size_t k = 0; k < dim; ++k) {
    const VF e = ExpShifted(d, hn::Xor(hn::LoadU(d, x + k * stride), sign), vmax);
    acc.Add(e);
    if (kind != 1) hn::StoreU(e, d, y + k * stride);
  }
  if (kind == 1) {
    VF hi, lo;
    LogSumHiLo(d, vmax, acc, hi, lo);
    for (size_t k = 0; k < dim; ++k)
      hn::StoreU(hn::Sub(hn::Sub(hn::LoadU(d, x + k * stride), hi), lo), d, y + k * stride);
  } else {
    const VF inv = ReciprocalOfPair(d, acc.s, acc.c);
    for (size_t k = 0; k < dim; ++k) hn::StoreU(hn::Mul(hn::LoadU(d, y + k * stride), inv), d, y + k * stride);
  }
}

// Stores gx: streamed (aligned, non-temporal) or plain.
template <bool kStream>
HWY_INLINE void StoreGrad(DF d, VF v, float* p) {
  if constexpr (kStream) {
    hn::Stream(v, d, p);
  } else {
    hn::StoreU(v, d, p);
  }
}

// The backward's small block: the rows held in registers, g and y read once (as the forward's small block;
// at 16M elements Softmax2d backward over 4 channels re-read them and ran at 0.4x PyTorch's speed).
template <size_t kDim, size_t kB, bool kStream, class Kind>
HWY_INLINE void SoftmaxBackwardColBlockSmall(Kind kind, const float* g, const float* y, float* gx, size_t stride) {
  const DF d;
  const size_t N = hn::Lanes(d);
  VF gv[kB][kDim], yv[kB][kDim];
  for (size_t b = 0; b < kB; ++b)
    for (size_t k = 0; k < kDim; ++k) {
      gv[b][k] = hn::LoadU(d, g + k * stride + b * N);
      yv[b][k] = hn::LoadU(d, y + k * stride + b * N);
    }
  for (size_t b = 0; b < kB; ++b) {
    SoftmaxGradSum sum(d, kind, gv[b][0], yv[b][0]);
    for (size_t k = 1; k < kDim; ++k) sum.Add(d, kind, gv[b][k], yv[b][k]);
    VF shi, slo;
    sum.HiLo(shi, slo);
    for (size_t k = 0; k < kDim; ++k)
      StoreGrad<kStream>(d, SoftmaxGradF(d, kind, gv[b][k], yv[b][k], shi, slo), gx + k * stride + b * N);
  }
}

template <bool kStream, class Kind>
HWY_INLINE void SoftmaxBackwardColBlockF32(Kind kind, const float* g, const float* y, float* gx, size_t dim,
                                           size_t stride) {
  const DF d;
  SoftmaxGradSum sum(d);
  for (size_t k = 0; k < dim; ++k) sum.Add(d, kind, hn::LoadU(d, g + k * stride), hn::LoadU(d, y + k * stride));
  VF shi, slo;
  sum.HiLo(shi, slo);
  for (size_t k = 0; k < dim; ++k)
    StoreGrad<kStream>(d, SoftmaxGradF(d, kind, hn::LoadU(d, g + k * stride), hn::LoadU(d, y + k * stride), shi, slo),
                       gx + k * stride);
}

// f(std::integral_constant<int, kind>) for the softmax kinds 0, 1, 2: the kernels' per-kind branches fold away
// (a run-time kind kept them in the column blocks, splitting them and spilling their registers).
template <class F>
HWY_INLINE void WithKind(int kind, F&& f) {
  switch (kind) {
    case 1: return f(std::integral_constant<int, 1>());
    case 2: return f(std::integral_constant<int, 2>());
    default: return f(std::integral_constant<int, 0>());
  }
}

// f(std::integral_constant<size_t, dim>) for dim <= kSmallDim, else f(std::integral_constant<size_t, 0>).
template <class F>
HWY_INLINE void WithSmallDim(size_t dim, F&& f) {
  switch (dim) {
    case 1: return f(std::integral_constant<size_t, 1>());
    case 2: return f(std::integral_constant<size_t, 2>());
    case 3: return f(std::integral_constant<size_t, 3>());
    case 4: return f(std::integral_constant<size_t, 4>());
    case 5: return f(std::integral_constant<size_t, 5>());
    case 6: return f(std::integral_constant<size_t, 6>());
    case 7: return f(std::integral_constant<size_t, 7>());
    case 8: return f(std::integral_constant<size_t, 8>());
    default: return f(std::integral_constant<size_t, 0>());
  }
}
static_assert(kSmallDim == 8, "WithSmallDim lists every small dim");

// Runs block(in..., out) on `count` columns of `dim` rows `stride` apart: whole vectors in place, the
// tail through zero-padded [dim, Lanes] copies (kIn inputs, kOut outputs).
template <size_t kIn, size_t kOut, class Block>
HWY_INLINE void ColStrip(const float* const* in, float* const* out, size_t dim, size_t stride,
                         size_t count, Block&& block) {
  const DF d;
  const size_t N = hn::Lanes(d);
  // A strip that is a whole small slice ([dim, inner] with inner == stride, a few kB): the thread's next task
  // is most likely the next slice, dim * stride further on; its lines are fetched while this one is computed
  // (short rows far apart defeat the hardware prefetchers: Softmax2d over 4 channels at 16M elements ran at
  // a third of its in-cache speed).
  const bool prefetch_next = count == stride && dim * stride <= 4096;
  size_t i = 0;
  auto run = [&](auto blocks) {
    const float* pi[kIn];
    float* po[kOut];
    for (size_t a = 0; a < kIn; ++a) pi[a] = in[a] + i;
    for (size_t a = 0; a < kOut; ++a) po[a] = out[a] + i;
    if (prefetch_next)  // one prefetch per 64-byte line (16 floats) of every row the blocks read
      for (size_t a = 0; a < kIn; ++a)
        for (size_t k = 0; k < dim; ++k)
          for (size_t c = 0; c < blocks.value * N; c += 16) hwy::Prefetch(pi[a] + (dim + k) * stride + c);
    block(pi, po, stride, blocks);
    i += blocks.value * N;
  };
  while (i + 2 * N <= count) run(std::integral_constant<size_t, 2>());
  if (i + N <= count) run(std::integral_constant<size_t, 1>());
  if (i == count) return;
  const size_t rem = count - i;
  thread_local std::vector<float> buf;
  buf.assign((kIn + kOut) * dim * N, 0.0f);
  const float* pi[kIn];
  float* po[kOut];
  for (size_t a = 0; a < kIn; ++a) {
    float* b = buf.data() + a * dim * N;
    for (size_t k = 0; k < dim; ++k) std::memcpy(b + k * N, in[a] + k * stride + i, rem * sizeof(float));
    pi[a] = b;
  }
  for (size_t a = 0; a < kOut; ++a) po[a] = buf.data() + (kIn + a) * dim * N;
  block(pi, po, N, std::integral_constant<size_t, 1>());
  for (size_t a = 0; a < kOut; ++a)
    for (size_t k = 0; k < dim; ++k) std::memcpy(out[a] + k * stride + i, po[a] + k * N, rem * sizeof(float));
}

void SoftmaxColsF32(int kind, const float* x, float* y, size_t dim, size_t stride, size_t count) {
  const float* const in[1] = {x};
  float* const out[1] = {y};
  WithSmallDim(dim, [&](auto small) {
    ColStrip<1, 1>(in, out, dim, stride, count, [&](const float* const* pi, float* const* po, size_t st, auto blocks) {
      if constexpr (small.value > 0) {
        SoftmaxColBlockSmall<small.value, blocks.value>(kind, pi[0], po[0], st);
      } else {
        for (size_t b = 0; b < blocks.value; ++b) SoftmaxColBlockF32(kind, pi[0] + b * hn::Lanes(DF()), po[0] + b * hn::Lanes(DF()), dim, st);
      }
    });
  });
}
// stream: gx is large (see kStreamElements); whole vectors are then written with streaming stores wherever
// a block's rows are aligned (gx on a vector boundary, stride a whole number of vectors). Softmax2d backward
// at 16M elements (4 channels of 16x16): 46-62 GB/s streamed against 40-55 with plain stores, alternating.
void SoftmaxBackwardColsF32(int kind_in, const float* g, const float* y, float* gx, size_t dim, size_t stride,
                            size_t count, bool stream) {
  const DF d;
  const size_t N = hn::Lanes(d);
  const float* const in[2] = {g, y};
  float* const out[1] = {gx};
  WithKind(kind_in, [&](auto kind) {
    WithSmallDim(dim, [&](auto small) {
      auto block = [&](auto streamed, const float* const* pi, float* const* po, size_t st, auto blocks) {
        if constexpr (small.value > 0) {
          SoftmaxBackwardColBlockSmall<small.value, blocks.value, streamed.value>(kind, pi[0], pi[1], po[0], st);
        } else {
          for (size_t b = 0; b < blocks.value; ++b)
            SoftmaxBackwardColBlockF32<streamed.value>(kind, pi[0] + b * N, pi[1] + b * N, po[0] + b * N, dim, st);
        }
      };
      ColStrip<2, 1>(in, out, dim, stride, count, [&](const float* const* pi, float* const* po, size_t st, auto blocks) {
        if (stream && reinterpret_cast<uintptr_t>(po[0]) % (N * sizeof(float)) == 0 && st % N == 0) {
          block(std::true_type(), pi, po, st, blocks);
        } else {
          block(std::false_type(), pi, po, st, blocks);
        }
      });
    });
  });
  if (stream) hwy::FlushStream();
}

// out[i] = body(a[i], b[i]) over [0, n): whole vectors, then the tail on zero-padded buffers. With `stream`
// and out on a vector boundary, the whole vectors are written with streaming stores (for memory-bound
// bodies only: see kComputeBoundFwd).
template <class Body>
HWY_INLINE void BinaryLoop(DF d, const float* a, const float* b, float* out, size_t n, Body&& body,
                           bool stream = false) {
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  if (stream && reinterpret_cast<uintptr_t>(out) % (N * sizeof(float)) == 0) {
    for (; i + N <= n; i += N) hn::Stream(body(hn::LoadU(d, a + i), hn::LoadU(d, b + i)), d, out + i);
    hwy::FlushStream();
  }
  for (; i + N <= n; i += N) hn::StoreU(body(hn::LoadU(d, a + i), hn::LoadU(d, b + i)), d, out + i);
  if (i < n) {
    const size_t rem = n - i;
    HWY_ALIGN float ba[kMaxLanesF] = {};
    HWY_ALIGN float bb[kMaxLanesF] = {};
    std::memcpy(ba, a + i, rem * sizeof(float));
    std::memcpy(bb, b + i, rem * sizeof(float));
    hn::Store(body(hn::Load(d, ba), hn::Load(d, bb)), d, ba);
    std::memcpy(out + i, ba, rem * sizeof(float));
  }
}

// ---- PReLU backward on a run with one slope a ------------------------------------------------------------
// gi = x > 0 ? g : a g (LeakyReLU's backward from the input); returns the slope's gradient over the run,
// the sum of x g where x <= 0 (or NaN): each product with its FMA error, Knuth-compensated per lane, the
// lanes added in double, so the float sum is as good as a double loop's.
double PreluBackwardF32(const float* g, const float* x, float* gi, size_t n, float a, bool stream) {
  const DF d;
  const OpLeakyReLU op(ParamValues{a});
  CompensatedAcc acc(d);
  VF perr = hn::Zero(d);
  auto body = [&](VF gv, VF xv) {
    const auto pos = hn::Gt(xv, hn::Zero(d));
    const VF p = hn::Mul(xv, gv);
    acc.Add(hn::IfThenZeroElse(pos, p));
    perr = hn::Add(perr, hn::IfThenZeroElse(pos, TwoProdErrF(d, xv, gv, p)));
    return op.Bwd(d, gv, xv);
  };
  BinaryLoop(d, g, x, gi, n, body, stream);  // padded lanes add 0 * 0
  return acc.Total(d, perr);
}

// ---- RReLU in training (see rrelu_slope in activation_kernels.h: the same integer hash, bit for bit) -----
struct RreluSlopes {
  hn::RebindToUnsigned<DF> du;
  hn::Vec<hn::RebindToUnsigned<DF>> k, idx, step;
  VF lower, range;
  // Indices i0, i0 + 1, ... (i0's high half folded into the key by the caller).
  HWY_INLINE RreluSlopes(DF d, uint32_t key32, uint32_t i0, float lo, float rg)
      : k(hn::Set(du, key32)),
        idx(hn::Add(hn::Iota(du, 0), hn::Set(du, i0))),
        step(hn::Set(du, static_cast<uint32_t>(hn::Lanes(d)))),
        lower(hn::Set(d, lo)),
        range(hn::Set(d, rg)) {}
  // The slopes of the next Lanes(d) indices.
  HWY_INLINE VF Next(DF d) {
    auto h = hn::Add(hn::Mul(idx, hn::Set(du, 0x9e3779b9u)), k);
    h = hn::Xor(h, hn::ShiftRight<16>(h));
    h = hn::Mul(h, hn::Set(du, 0x7feb352du));
    h = hn::Xor(h, hn::ShiftRight<15>(h));
    h = hn::Mul(h, hn::Set(du, 0x846ca68bu));
    h = hn::Xor(h, hn::ShiftRight<16>(h));
    idx = hn::Add(idx, step);
    const hn::RebindToSigned<DF> di;
    const VF u = hn::Mul(hn::ConvertTo(d, hn::BitCast(di, hn::ShiftRight<8>(h))), hn::Set(d, 0x1p-24f));
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
    return hn::MulAdd(range, u, lower);  // one rounding, as rrelu_slope's fmaf
#else
    // No FMA instruction: MulAdd would round twice; the lanes go through fmaf (older CPUs only).
    HWY_ALIGN float bu[kMaxLanesF], br[kMaxLanesF], bl[kMaxLanesF];
    hn::Store(u, d, bu);
    hn::Store(range, d, br);
    hn::Store(lower, d, bl);
    for (size_t l = 0; l < hn::Lanes(d); ++l) bu[l] = std::fmaf(br[l], bu[l], bl[l]);
    return hn::Load(d, bu);
#endif
  }
};

// y = x <= 0 ? x * slope : x; with `noise`, also noise = dy/dx = x <= 0 ? slope : 1 (the backward's
// multiplier; NaN takes 1, as x <= 0 is false).
void RreluF32(uint32_t key32, uint32_t i0, float lower, float range, const float* x, float* y, float* noise,
              size_t n) {
  const DF d;
  RreluSlopes sl(d, key32, i0, lower, range);
  if (noise == nullptr) {
    auto body = [&](VF xv, VF) {
      const VF slope = sl.Next(d);
      return hn::IfThenElse(hn::Le(xv, hn::Zero(d)), hn::Mul(xv, slope), xv);
    };
    return BinaryLoop(d, x, x, y, n, body);
  }
  const size_t N = hn::Lanes(d);
  auto both = [&](VF xv, VF& yv, VF& nv) {
    const VF slope = sl.Next(d);
    const auto neg = hn::Le(xv, hn::Zero(d));
    yv = hn::IfThenElse(neg, hn::Mul(xv, slope), xv);
    nv = hn::IfThenElse(neg, slope, hn::Set(d, 1.0f));
  };
  size_t i = 0;
  for (; i + N <= n; i += N) {
    VF yv, nv;
    both(hn::LoadU(d, x + i), yv, nv);
    hn::StoreU(yv, d, y + i);
    hn::StoreU(nv, d, noise + i);
  }
  if (i < n) {
    const size_t rem = n - i;
    HWY_ALIGN float bx[kMaxLanesF] = {};
    HWY_ALIGN float bn[kMaxLanesF];
    std::memcpy(bx, x + i, rem * sizeof(float));
    VF yv, nv;
    both(hn::Load(d, bx), yv, nv);
    hn::Store(yv, d, bx);
    hn::Store(nv, d, bn);
    std::memcpy(y + i, bx, rem * sizeof(float));
    std::memcpy(noise + i, bn, rem * sizeof(float));
  }
}

// out = a * b (RReLU's backward from its noise), streaming for large outputs.
void MulF32(const float* a, const float* b, float* out, size_t n, bool stream) {
  const DF d;
  BinaryLoop(d, a, b, out, n, [](VF av, VF bv) { return hn::Mul(av, bv); }, stream);
}

// ---- GLU halves: y = a * sigmoid(b) --------------------------------------------------------------------
// With e = exp(-|b|) and r = 1 / (1 + e): sigmoid(b) = r (b >= 0) or e r (b < 0), 1 - sigmoid(b) = e r or r,
// and sigmoid(b) (1 - sigmoid(b)) = e r^2 for either sign (no 1 - s cancellation for large b). Where e is
// tiny (|b| > 64) the products are formed with e 2^64 and scaled by 2^-64 last, so results that are
// subnormal or 0 (b = -1000, -inf) are rounded once, from the exact product, not from a subnormal e.
struct GluGate {
  VF es, r, scale;  // e or e 2^64; 1 / (1 + e); 1 or 2^-64
  hn::Mask<DF> neg;
  HWY_INLINE GluGate(DF d, VF b) {
    VF kf;
    const VF nb = hn::Neg(hn::Abs(b));
    const VF rr = ExpReduceQ(d, MaxNaN(d, hn::Set(d, -120.0f), nb), kf);
    const VF ps = hn::Mul(ExpPoly1(d, rr), Pow2Q<64>(d, kf));  // e 2^64, normal
    const VF e = hn::Mul(ps, hn::Set(d, kTwoM64));
    const auto tiny = hn::Lt(nb, hn::Set(d, -64.0f));
    es = hn::IfThenElse(tiny, ps, e);
    scale = hn::IfThenElse(tiny, hn::Set(d, kTwoM64), hn::Set(d, 1.0f));
    r = hn::Div(hn::Set(d, 1.0f), hn::Add(hn::Set(d, 1.0f), e));
    neg = hn::Lt(b, hn::Zero(d));
  }
  // m * sigmoid(b)
  HWY_INLINE VF MulSigmoid(DF d, VF m) const {
    return hn::IfThenElse(neg, hn::Mul(hn::Mul(hn::Mul(m, es), r), scale), hn::Mul(m, r));
  }
  // m * sigmoid(b) (1 - sigmoid(b))
  HWY_INLINE VF MulSigmoidDeriv(DF d, VF m) const {
    (void)d;
    return hn::Mul(hn::Mul(m, hn::Mul(hn::Mul(es, r), r)), scale);
  }
};

void GluForwardF32(const float* a, const float* b, float* y, size_t n) {
  const DF d;
  BinaryLoop(d, a, b, y, n, [&](VF av, VF bv) { return GluGate(d, bv).MulSigmoid(d, av); });
}
// ga = g * sigmoid(b); gb = g * a * sigmoid(b) * (1 - sigmoid(b)).
void GluBackwardF32(const float* g, const float* a, const float* b, float* ga, float* gb, size_t n) {
  const DF d;
  const size_t N = hn::Lanes(d);
  auto body = [&](VF gv, VF av, VF bv, VF& oa, VF& ob) {
    const GluGate gate(d, bv);
    oa = gate.MulSigmoid(d, gv);
    ob = gate.MulSigmoidDeriv(d, hn::Mul(gv, av));
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
HWY_EXPORT(ForwardWithBufferF32);
HWY_EXPORT(SoftmaxRowF32);
HWY_EXPORT(SoftmaxBackwardRowF32);
HWY_EXPORT(SoftmaxColsF32);
HWY_EXPORT(PreluBackwardF32);
HWY_EXPORT(RreluF32);
HWY_EXPORT(MulF32);
HWY_EXPORT(SoftmaxBackwardColsF32);
HWY_EXPORT(GluForwardF32);
HWY_EXPORT(GluBackwardF32);
HWY_EXPORT(TargetF32);

namespace internal {
// Single-threaded SIMD entry points; the public functions add OpenMP and the reference switch.
void simd_forward_with_buffer(ActId id, const float* x, float* y, float* buf, int64_t n) {
  HWY_DYNAMIC_DISPATCH(ForwardWithBufferF32)(id, x, y, buf, static_cast<size_t>(n));
}
void simd_act_forward(ActId id, const ParamValues& p, const float* x, float* y, int64_t n, bool stream) {
  HWY_DYNAMIC_DISPATCH(ActForwardF32)(id, p, x, y, static_cast<size_t>(n), stream);
}
void simd_act_backward(ActId id, const ParamValues& p, bool from_output, const float* g, const float* s, float* gi,
                       int64_t n, bool stream) {
  HWY_DYNAMIC_DISPATCH(ActBackwardF32)(id, p, from_output, g, s, gi, static_cast<size_t>(n), stream);
}
void simd_softmax_row(int kind, const float* x, float* y, int64_t n) {
  HWY_DYNAMIC_DISPATCH(SoftmaxRowF32)(kind, x, y, static_cast<size_t>(n));
}
void simd_softmax_backward_row(int kind, const float* g, const float* y, float* gx, int64_t n) {
  HWY_DYNAMIC_DISPATCH(SoftmaxBackwardRowF32)(kind, g, y, gx, static_cast<size_t>(n));
}
void simd_softmax_cols(int kind, const float* x, float* y, int64_t dim, int64_t stride, int64_t count) {
  HWY_DYNAMIC_DISPATCH(SoftmaxColsF32)(kind, x, y, static_cast<size_t>(dim), static_cast<size_t>(stride),
                                       static_cast<size_t>(count));
}
void simd_softmax_backward_cols(int kind, const float* g, const float* y, float* gx, int64_t dim, int64_t stride,
                                int64_t count, bool stream) {
  HWY_DYNAMIC_DISPATCH(SoftmaxBackwardColsF32)(kind, g, y, gx, static_cast<size_t>(dim), static_cast<size_t>(stride),
                                               static_cast<size_t>(count), stream);
}
double simd_prelu_backward(const float* g, const float* x, float* gi, int64_t n, float a, bool stream) {
  return HWY_DYNAMIC_DISPATCH(PreluBackwardF32)(g, x, gi, static_cast<size_t>(n), a, stream);
}
void simd_rrelu(uint32_t key32, uint32_t i0, float lower, float range, const float* x, float* y, float* noise,
                int64_t n) {
  HWY_DYNAMIC_DISPATCH(RreluF32)(key32, i0, lower, range, x, y, noise, static_cast<size_t>(n));
}
void simd_mul(const float* a, const float* b, float* out, int64_t n, bool stream) {
  HWY_DYNAMIC_DISPATCH(MulF32)(a, b, out, static_cast<size_t>(n), stream);
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
