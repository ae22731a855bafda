// Direct 3x3 convolution (see conv_kernels.h) on Highway: one source, compiled for every x86-64 target and
// dispatched at run time.
//
// Forward: a block of kOB output channels times kCB vectors of output positions is held in registers while
// every (input channel, tap) adds its kCB shifted input vectors times kOB broadcast weights: each load feeds kOB
// fused multiply-adds. Weight gradient: see WeightGradRow. Reads for the left and right kernel columns are
// masked where they would wrap around a row edge (ColumnMasks).

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

#include "kernels/hwy_inl.h"

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

// Per vector of N output positions starting at v N: which lanes may read the column to their left (x != 0) and
// which the column to their right (x != W - 1); one bit per lane (hn::LoadMaskBits). The other lanes' reads
// would wrap around to the neighbouring row and are masked to the zero they stand for.
struct ColumnMasks {
  int64_t P = -1, W = -1, N = -1;
  std::vector<uint64_t> left, right;
};

// The masks for planes of P positions, W wide, N lanes: built once per thread and shape (a convolution calls the
// kernels once per image with the same shape).
const ColumnMasks& column_masks(int64_t P, int64_t W, int64_t N) {
  thread_local ColumnMasks cm;
  if (cm.P == P && cm.W == W && cm.N == N) return cm;
  const int64_t nv = (P + N - 1) / N;
  cm.left.assign(static_cast<size_t>(nv), 0);
  cm.right.assign(static_cast<size_t>(nv), 0);
  for (int64_t v = 0; v < nv; ++v)
    for (int64_t l = 0, x = (v * N) % W; l < N; ++l, x = x + 1 == W ? 0 : x + 1) {
      if (x != 0) cm.left[static_cast<size_t>(v)] |= uint64_t{1} << l;
      if (x != W - 1) cm.right[static_cast<size_t>(v)] |= uint64_t{1} << l;
    }
  cm.P = P;
  cm.W = W;
  cm.N = N;
  return cm;
}

HWY_INLINE hn::Mask<DF> MaskOf(const uint64_t& bits) {
  return hn::LoadMaskBits(DF(), reinterpret_cast<const uint8_t*>(&bits));
}

// Output channels [jb, jb + OB) at positions [q, q + CB N) of one image (positions past the plane are computed
// and dropped).
template <int OB, int CB>
HWY_INLINE void ForwardBlock(const float* padded, const Conv3x3Pad& pad, const ColumnMasks& cm, const float* K,
                             const float* bias, float* out, int64_t Cin, int64_t Cout, int64_t W, int64_t P,
                             int64_t jb, int64_t q) {
  const DF d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  VF a[OB][CB];
#pragma GCC unroll 8
  for (int j = 0; j < OB; ++j)
#pragma GCC unroll 4
    for (int c = 0; c < CB; ++c) a[j][c] = hn::Set(d, bias ? bias[jb + j] : 0.0f);
  hn::Mask<DF> ml[CB], mr[CB];
#pragma GCC unroll 4
  for (int c = 0; c < CB; ++c) {
    ml[c] = MaskOf(cm.left[static_cast<size_t>(q / N + c)]);
    mr[c] = MaskOf(cm.right[static_cast<size_t>(q / N + c)]);
  }
  for (int64_t i = 0; i < Cin; ++i) {
    const float* base = padded + i * pad.stride + pad.offset + q;
    const float* k = K + i * 9 * Cout + jb;
#pragma GCC unroll 3
    for (int ky = 0; ky < 3; ++ky)
#pragma GCC unroll 3
      for (int kx = 0; kx < 3; ++kx) {
        const float* src = base + (ky - 1) * W + (kx - 1);
        const float* kt = k + (3 * ky + kx) * Cout;
        VF sv[CB];
#pragma GCC unroll 4
        for (int c = 0; c < CB; ++c) {
          sv[c] = hn::LoadU(d, src + c * N);
          if (kx == 0) sv[c] = hn::IfThenElseZero(ml[c], sv[c]);
          if (kx == 2) sv[c] = hn::IfThenElseZero(mr[c], sv[c]);
        }
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

// The blocks of output channels [jb, jb + OB): kCB vectors of positions at a time, then the remaining one or
// two vectors (a plane of 196 positions is 13 vectors of 16: blocks of three alone would compute 15).
template <int OB, int CB>
HWY_INLINE void ForwardChannels(const float* padded, const Conv3x3Pad& pad, const ColumnMasks& cm, const float* K,
                                const float* bias, float* out, int64_t Cin, int64_t Cout, int64_t W, int64_t P,
                                int64_t jb) {
  const int64_t N = static_cast<int64_t>(hn::Lanes(DF()));
  const int64_t nv = (P + N - 1) / N;
  int64_t v = 0;
  for (; v + CB <= nv; v += CB) ForwardBlock<OB, CB>(padded, pad, cm, K, bias, out, Cin, Cout, W, P, jb, v * N);
  if (CB > 2 && v + 2 <= nv) {
    ForwardBlock<OB, 2>(padded, pad, cm, K, bias, out, Cin, Cout, W, P, jb, v * N);
    v += 2;
  }
  if (v < nv) ForwardBlock<OB, 1>(padded, pad, cm, K, bias, out, Cin, Cout, W, P, jb, v * N);
}

// Positions per block: kCB vectors (the accumulators, kOB x kCB, fill most of the registers).
#if HWY_TARGET <= HWY_AVX3
constexpr int kCB = 3;
#else
constexpr int kCB = 2;
#endif

void Conv3x3ForwardF32(const float* padded, const float* K, const float* bias, float* out, int64_t Cin, int64_t Cout,
                       int64_t H, int64_t W) {
  const int64_t N = static_cast<int64_t>(hn::Lanes(DF())), P = H * W;
  const Conv3x3Pad pad(H, W);
  const ColumnMasks& cm = column_masks(P, W, N);
  int64_t jb = 0;
  for (; jb + kOB <= Cout; jb += kOB) ForwardChannels<kOB, kCB>(padded, pad, cm, K, bias, out, Cin, Cout, W, P, jb);
  for (; jb < Cout; ++jb) ForwardChannels<1, kCB>(padded, pad, cm, K, bias, out, Cin, Cout, W, P, jb);
}

// Images whose operands one call of WeightGradRow runs through before its accumulators go back to `part`.
constexpr int64_t kGradImages = 4;

// Weight gradient of images [0, count) (count <= kGradImages), input channel i, output channels [jb, jb + OB),
// kernel row ky: the three taps' sums over the planes' positions in OB x 3 vector accumulators, added to the
// running lane sums in `part` (Lanes floats per (i, ky, j, kx), see below), image after image. Each shifted input
// vector feeds OB multiply-adds and each gradient vector three; the operands of four images stay in L1 (a
// block of eight images did not, and ran 4x slower; one image at a time spent a third of the time loading and
// storing the accumulators). g[b] is image b's gradient with planes `gstride` apart and zero past the plane
// (conv3x3_prepare_grad).
template <int OB>
HWY_INLINE void WeightGradRow(const float* const* padded, const float* const* g, int64_t count, float* part,
                              bool first, int64_t Cout, int64_t W, int64_t P, int64_t gstride, const Conv3x3Pad& pad,
                              const ColumnMasks& cm, int64_t i, int64_t jb, int ky) {
  const DF d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  float* pp = part + ((i * 3 + ky) * Cout + jb) * 3 * N;
  VF acc[OB][3];
#pragma GCC unroll 8
  for (int j = 0; j < OB; ++j)
#pragma GCC unroll 3
    for (int kx = 0; kx < 3; ++kx) acc[j][kx] = first ? hn::Zero(d) : hn::LoadU(d, pp + (3 * j + kx) * N);
  // One vector of positions [q, q + N): `m` masks the input lanes that take part (all but the left or right
  // column's wrapped reads, and in the last vector the lanes past the plane, where g is zero and the input is
  // zeroed so that even inf or NaN there adds an exact zero).
  auto step = [&](const float* gq, const float* xq, hn::Mask<DF> ml, hn::Mask<DF> mc, hn::Mask<DF> mr) HWY_ATTR {
    VF s[3];
    s[0] = hn::IfThenElseZero(ml, hn::LoadU(d, xq - 1));
    s[1] = hn::IfThenElseZero(mc, hn::LoadU(d, xq));
    s[2] = hn::IfThenElseZero(mr, hn::LoadU(d, xq + 1));
#pragma GCC unroll 8
    for (int j = 0; j < OB; ++j) {
      VF gv = hn::Load(d, gq + j * gstride);  // aligned: see conv3x3_prepare_grad
      InRegister(gv);
#pragma GCC unroll 3
      for (int kx = 0; kx < 3; ++kx) acc[j][kx] = hn::MulAdd(gv, s[kx], acc[j][kx]);
    }
  };
  const auto all = hn::FirstN(d, static_cast<size_t>(N));
  for (int64_t b = 0; b < count; ++b) {
    const float* xb = padded[b] + i * pad.stride + pad.offset + (ky - 1) * W;
    const float* gb = g[b] + jb * gstride;
    int64_t q = 0;
    for (size_t v = 0; q + N <= P; q += N, ++v)
      step(gb + q, xb + q, MaskOf(cm.left[v]), all, MaskOf(cm.right[v]));
    if (q < P) {
      const size_t v = static_cast<size_t>(q / N);
      const auto in = hn::FirstN(d, static_cast<size_t>(P - q));
      step(gb + q, xb + q, hn::And(in, MaskOf(cm.left[v])), in, hn::And(in, MaskOf(cm.right[v])));
    }
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
  const ColumnMasks& cm = column_masks(P, W, N);
  for (int64_t b = 0; b < count; b += kGradImages) {
    const int64_t nb = std::min(kGradImages, count - b);
    int64_t jb = 0;
    for (; jb + kOB <= Cout; jb += kOB)
      for (int64_t i = 0; i < Cin; ++i)
        for (int ky = 0; ky < 3; ++ky)
          WeightGradRow<kOB>(padded + b, g + b, nb, part, b == 0, Cout, W, P, gstride, pad, cm, i, jb, ky);
    for (; jb < Cout; ++jb)
      for (int64_t i = 0; i < Cin; ++i)
        for (int ky = 0; ky < 3; ++ky)
          WeightGradRow<1>(padded + b, g + b, nb, part, b == 0, Cout, W, P, gstride, pad, cm, i, jb, ky);
  }
  if (count == 0) return;
  for (int64_t i = 0; i < Cin; ++i)
    for (int ky = 0; ky < 3; ++ky)
      for (int64_t j = 0; j < Cout; ++j)
        for (int kx = 0; kx < 3; ++kx)
          gw[(j * Cin + i) * 9 + 3 * ky + kx] +=
              hn::GetLane(hn::SumOfLanes(d, hn::LoadU(d, part + (((i * 3 + ky) * Cout + j) * 3 + kx) * N)));
}

// acc[c] += the sum of plane c (P values; planes `stride` apart), in lanes, then the lanes' total.
void PlaneSumsF32(const float* g, int64_t C, int64_t P, int64_t stride, float* acc) {
  const DF d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  for (int64_t c = 0; c < C; ++c) {
    const float* r = g + c * stride;
    VF a0 = hn::Zero(d), a1 = hn::Zero(d);
    int64_t q = 0;
    for (; q + 2 * N <= P; q += 2 * N) {
      a0 = hn::Add(a0, hn::LoadU(d, r + q));
      a1 = hn::Add(a1, hn::LoadU(d, r + q + N));
    }
    if (q + N <= P) {
      a0 = hn::Add(a0, hn::LoadU(d, r + q));
      q += N;
    }
    if (q < P) a0 = hn::Add(a0, LoadFirst(d, r + q, static_cast<size_t>(P - q)));
    acc[c] += hn::GetLane(hn::SumOfLanes(d, hn::Add(a0, a1)));
  }
}

}  // namespace actlab::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace actlab::kernels {
HWY_EXPORT(Conv3x3ForwardF32);
HWY_EXPORT(Conv3x3WeightGradF32);
HWY_EXPORT(PlaneSumsF32);

void conv3x3_plane_sums(const float* g, int64_t C, int64_t P, int64_t stride, float* acc) {
  HWY_DYNAMIC_DISPATCH(PlaneSumsF32)(g, C, P, stride, acc);
}

void conv3x3_prepare(const float* in, float* padded, int64_t C, int64_t H, int64_t W) {
  const Conv3x3Pad pad(H, W);
  const int64_t P = H * W;
  for (int64_t c = 0; c < C; ++c) {
    float* dst = padded + c * pad.stride;
    std::fill(dst, dst + pad.offset, 0.0f);
    std::memcpy(dst + pad.offset, in + c * P, static_cast<size_t>(P) * sizeof(float));
    std::fill(dst + pad.offset + P, dst + pad.stride, 0.0f);
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
