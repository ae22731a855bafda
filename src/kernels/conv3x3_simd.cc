// Direct 3x3 convolution (see conv_kernels.h) on Highway: one source, compiled for every x86-64 target and
// dispatched at run time.
//
// A block of kOB output channels times two vectors of output positions is held in registers while every
// (input channel, tap) adds its two shifted input vectors times kOB broadcast weights: each load feeds 2 kOB
// fused multiply-adds.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

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
          const VF w = hn::Set(d, kt[j]);
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

}  // namespace actlab::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace actlab::kernels {
HWY_EXPORT(Conv3x3ForwardF32);

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

}  // namespace actlab::kernels
#endif  // HWY_ONCE
