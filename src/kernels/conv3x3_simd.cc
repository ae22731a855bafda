// Direct 3x3 convolution (see conv_kernels.h) on Highway: one source, compiled for every x86-64 target and
// dispatched at run time.
//
// Forward: a block of kOB output channels times kCB vectors of output positions is held in registers while
// every (input channel, tap) adds its kCB shifted input vectors times kOB broadcast weights: each load feeds kOB
// fused multiply-adds. Weight gradient: see WeightGradRow.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/conv_kernels.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/conv3x3_simd.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace actlab::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;

// Keeps v in a register: GCC otherwise folds a loaded or broadcast vector into every multiply-add that uses it
// as a memory operand, one load per use, and the loads (not the multiply-adds) then set the pace.
HWY_INLINE void InRegister(VF& v) {
#if HWY_ARCH_X86 && HWY_TARGET != HWY_SCALAR && HWY_TARGET != HWY_EMU128
  asm("" : "+v"(v.raw));
#else
  (void)v;
#endif
}

// Output channels per register block: 8 x 2 accumulators on targets with 32 vector registers, 4 x 2 on 16.
#if HWY_TARGET <= HWY_AVX3
constexpr int kOB = 8;
#else
constexpr int kOB = 4;
#endif

// Output channels [jb, jb + OB) at positions [q, q + CB N) of one image (positions past the plane are computed
// and dropped).
template <int OB, int CB>
HWY_INLINE void ForwardBlock(const float* padded, const Conv3x3Pad& pad, const float* K, const float* bias,
                             float* out, int64_t Cin, int64_t Cout, int64_t W, int64_t P, int64_t jb, int64_t q) {
  const DF d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  VF a[OB][CB];
#pragma GCC unroll 8
  for (int j = 0; j < OB; ++j)
#pragma GCC unroll 4
    for (int c = 0; c < CB; ++c) a[j][c] = hn::Set(d, bias ? bias[jb + j] : 0.0f);
  for (int64_t i = 0; i < Cin; ++i) {
    const float* base = padded + 3 * i * pad.stride + pad.offset + q;
    const float* k = K + i * 9 * Cout + jb;
#pragma GCC unroll 3
    for (int ky = 0; ky < 3; ++ky)
#pragma GCC unroll 3
      for (int kx = 0; kx < 3; ++kx) {
        const float* src = base + kx * pad.stride + (ky - 1) * W + (kx - 1);
        const float* kt = k + (3 * ky + kx) * Cout;
        VF sv[CB];
#pragma GCC unroll 4
        for (int c = 0; c < CB; ++c) sv[c] = hn::LoadU(d, src + c * N);
#pragma GCC unroll 8
        for (int j = 0; j < OB; ++j) {
          VF w = hn::Set(d, kt[j]);
          InRegister(w);
#pragma GCC unroll 4
          for (int c = 0; c < CB; ++c) a[j][c] = hn::MulAdd(w, sv[c], a[j][c]);
        }
      }
  }
  HWY_ALIGN float tail[4 * 64];
  for (int j = 0; j < OB; ++j) {
    float* o = out + (jb + j) * P + q;
    if (q + CB * N <= P) {
      for (int c = 0; c < CB; ++c) hn::StoreU(a[j][c], d, o + c * N);
    } else {
      for (int c = 0; c < CB; ++c) hn::Store(a[j][c], d, tail + c * N);
      std::memcpy(o, tail, static_cast<size_t>(P - q) * sizeof(float));
    }
  }
}

// Positions per block: kCB vectors (the accumulators, kOB x kCB, fill most of the registers).
#if HWY_TARGET <= HWY_AVX3
constexpr int kCB = 3;
#else
constexpr int kCB = 2;
#endif

void Conv3x3ForwardF32(const float* padded, const float* K, const float* bias, float* out, int64_t Cin, int64_t Cout,
                       int64_t H, int64_t W) {
  const DF d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d)), P = H * W;
  const Conv3x3Pad pad(H, W);
  int64_t jb = 0;
  for (; jb + kOB <= Cout; jb += kOB)
    for (int64_t q = 0; q < P; q += kCB * N)
      ForwardBlock<kOB, kCB>(padded, pad, K, bias, out, Cin, Cout, W, P, jb, q);
  for (; jb < Cout; ++jb)
    for (int64_t q = 0; q < P; q += kCB * N) ForwardBlock<1, kCB>(padded, pad, K, bias, out, Cin, Cout, W, P, jb, q);
}

// Weight gradient of one image, input channel i, output channels [jb, jb + OB), kernel row ky: the three taps'
// sums over the plane's positions in OB x 3 vector accumulators, added to the running lane sums in `part`
// (Lanes floats per (i, ky, j, kx), see below). Each shifted input vector feeds OB multiply-adds and each gradient
// vector three; one image's operands stay in L1 (the block's images together did not, and ran 4x slower).
// g is the image's gradient with planes `gstride` apart and zero past the plane (conv3x3_prepare_grad).
template <int OB>
HWY_INLINE void WeightGradRow(const float* padded, const float* g, float* part, bool first, int64_t Cout, int64_t W,
                              int64_t P, int64_t gstride, const Conv3x3Pad& pad, int64_t i, int64_t jb, int ky) {
  const DF d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  float* pp = part + ((i * 3 + ky) * Cout + jb) * 3 * N;
  VF acc[OB][3];
#pragma GCC unroll 8
  for (int j = 0; j < OB; ++j)
#pragma GCC unroll 3
    for (int kx = 0; kx < 3; ++kx) acc[j][kx] = first ? hn::Zero(d) : hn::LoadU(d, pp + (3 * j + kx) * N);
  auto step = [&](const float* gq, const float* xq, auto load) HWY_ATTR {
    VF s[3];
#pragma GCC unroll 3
    for (int kx = 0; kx < 3; ++kx) s[kx] = load(xq + kx * pad.stride + (kx - 1));
#pragma GCC unroll 8
    for (int j = 0; j < OB; ++j) {
      VF gv = hn::Load(d, gq + j * gstride);  // aligned: see conv3x3_prepare_grad
      InRegister(gv);
#pragma GCC unroll 3
      for (int kx = 0; kx < 3; ++kx) acc[j][kx] = hn::MulAdd(gv, s[kx], acc[j][kx]);
    }
  };
  const float* xb = padded + 3 * i * pad.stride + pad.offset + (ky - 1) * W;
  const float* gb = g + jb * gstride;
  int64_t q = 0;
  for (; q + N <= P; q += N) step(gb + q, xb + q, [&](const float* p) HWY_ATTR { return hn::LoadU(d, p); });
  if (q < P) {
    // The last, partial vector: only the plane's lanes of the input (past it, g is zero, and the input lanes are
    // zeroed so that even inf or NaN there adds an exact zero).
    const auto m = hn::FirstN(d, static_cast<size_t>(P - q));
    step(gb + q, xb + q, [&](const float* p) HWY_ATTR { return hn::IfThenElseZero(m, hn::LoadU(d, p)); });
  }
#pragma GCC unroll 8
  for (int j = 0; j < OB; ++j)
#pragma GCC unroll 3
    for (int kx = 0; kx < 3; ++kx) hn::StoreU(acc[j][kx], d, pp + (3 * j + kx) * N);
}

// part: Cin * 9 * Cout * 16 floats of scratch.
void Conv3x3WeightGradF32(const float* const* padded, const float* const* g, int64_t count, float* gw, int64_t Cin,
                          int64_t Cout, int64_t H, int64_t W, float* part) {
  const DF d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  const int64_t P = H * W, gstride = conv3x3_grad_stride(H, W);
  const Conv3x3Pad pad(H, W);
  for (int64_t b = 0; b < count; ++b) {
    int64_t jb = 0;
    for (; jb + kOB <= Cout; jb += kOB)
      for (int64_t i = 0; i < Cin; ++i)
        for (int ky = 0; ky < 3; ++ky)
          WeightGradRow<kOB>(padded[b], g[b], part, b == 0, Cout, W, P, gstride, pad, i, jb, ky);
    for (; jb < Cout; ++jb)
      for (int64_t i = 0; i < Cin; ++i)
        for (int ky = 0; ky < 3; ++ky) WeightGradRow<1>(padded[b], g[b], part, b == 0, Cout, W, P, gstride, pad, i, jb, ky);
  }
  if (count == 0) return;
  for (int64_t i = 0; i < Cin; ++i)
    for (int ky = 0; ky < 3; ++ky)
      for (int64_t j = 0; j < Cout; ++j)
        for (int kx = 0; kx < 3; ++kx)
          gw[(j * Cin + i) * 9 + 3 * ky + kx] +=
              hn::GetLane(hn::SumOfLanes(d, hn::LoadU(d, part + (((i * 3 + ky) * Cout + j) * 3 + kx) * N)));
}

}  // namespace actlab::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace actlab::kernels {
HWY_EXPORT(Conv3x3ForwardF32);
HWY_EXPORT(Conv3x3WeightGradF32);

void conv3x3_prepare(const float* in, float* padded, int64_t C, int64_t H, int64_t W) {
  const Conv3x3Pad pad(H, W);
  const int64_t P = H * W;
  for (int64_t c = 0; c < C; ++c) {
    const float* src = in + c * P;
    for (int v = 0; v < 3; ++v) {
      float* dst = padded + (3 * c + v) * pad.stride;
      std::fill(dst, dst + pad.offset, 0.0f);
      std::memcpy(dst + pad.offset, src, static_cast<size_t>(P) * sizeof(float));
      std::fill(dst + pad.offset + P, dst + pad.stride, 0.0f);
      // Variant 0 is read one column to the left: its last column stands for the padding left of column 0.
      // Variant 2 is read one to the right: its first column stands for the padding right of column W - 1.
      if (v != 1)
        for (int64_t y = 0; y < H; ++y) dst[pad.offset + y * W + (v == 0 ? W - 1 : 0)] = 0.0f;
    }
  }
}

void conv3x3_forward(const float* padded, const float* K, const float* bias, float* out, int64_t Cin, int64_t Cout,
                     int64_t H, int64_t W) {
  HWY_DYNAMIC_DISPATCH(Conv3x3ForwardF32)(padded, K, bias, out, Cin, Cout, H, W);
}

void conv3x3_prepare_grad(const float* g, float* out, int64_t C, int64_t H, int64_t W) {
  const int64_t P = H * W, stride = conv3x3_grad_stride(H, W);
  for (int64_t c = 0; c < C; ++c) {
    std::memcpy(out + c * stride, g + c * P, static_cast<size_t>(P) * sizeof(float));
    std::fill(out + c * stride + P, out + (c + 1) * stride, 0.0f);
  }
}

void conv3x3_weight_grad(const float* const* padded, const float* const* g, int64_t count, float* gw, int64_t Cin,
                         int64_t Cout, int64_t H, int64_t W) {
  thread_local std::vector<float> part;
  part.resize(static_cast<size_t>(Cin * 9 * Cout * 16));
  HWY_DYNAMIC_DISPATCH(Conv3x3WeightGradF32)(padded, g, count, gw, Cin, Cout, H, W, part.data());
}

}  // namespace actlab::kernels
#endif  // HWY_ONCE
