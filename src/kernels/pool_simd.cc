// Max pooling over 2x2 windows with stride 2 (the seed CNN's MaxPool2d(2)) on Highway: one source,
// compiled for every x86-64 target and dispatched at run time, like the activation kernels.
//
// The scalar loop this replaces chose each window's maximum with compare-and-branch; on random data those
// branches mispredict about half the time (16% of a seed-CNN training step on one thread). Here a row of
// windows is a few vectors: the top and bottom input rows are split into even and odd columns
// (ConcatEven / ConcatOdd), the four candidates are compared in window order with the scalar rule (a later
// element wins when it is greater or NaN), and the winner's position is carried as a code 0..3.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/parallel.h"
#include "kernels/pool_kernels.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/pool_simd.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "kernels/hwy_inl.h"

HWY_BEFORE_NAMESPACE();
namespace actlab::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

constexpr size_t kMaxLanes = 64;

// The even (kOdd false) or odd lanes of the 2N consecutive values lo, hi (one lane each on the scalar
// target).
template <bool kOdd, class D, class V>
HWY_INLINE V EveryOther(D d, V hi, V lo) {
#if HWY_TARGET == HWY_SCALAR
  (void)d;
  return kOdd ? hi : lo;
#else
  if constexpr (kOdd) return hn::ConcatOdd(d, hi, lo);
  return hn::ConcatEven(d, hi, lo);
#endif
}

// Loads the 2n values at p (n <= N outputs: 2n inputs) into lo (the first N) and hi (the next N); lanes
// past 2n are zero. Reads nothing past p + 2n: masked loads on AVX2 and AVX-512, a copy elsewhere.
template <class D, class V = hn::Vec<D>>
HWY_INLINE void LoadPair(D d, const float* p, size_t n, V& lo, V& hi) {
  const size_t N = hn::Lanes(d);
  if (n == N) {
    lo = hn::LoadU(d, p);
    hi = hn::LoadU(d, p + N);
    return;
  }
#if HWY_TARGET <= HWY_AVX2
  const size_t m = 2 * n;
  lo = hn::MaskedLoad(hn::FirstN(d, m < N ? m : N), d, p);
  hi = m > N ? hn::MaskedLoad(hn::FirstN(d, m - N), d, p + N) : hn::Zero(d);
#else
  HWY_ALIGN float in[2 * kMaxLanes] = {};
  std::memcpy(in, p, 2 * n * sizeof(float));
  lo = hn::Load(d, in);
  hi = hn::Load(d, in + N);
#endif
}

// One plane: OH x OW windows over an H x W plane (only its first 2 OH rows and 2 OW columns are read).
// Window (oh, ow) covers positions 2 oh W + 2 ow (+1 for the right column, +W for the bottom row). Writes the
// winners' positions to idx, or (idx null) their codes 0..3 to `codes`.
void MaxPool2x2PlaneF32(const float* x, float* y, int64_t* idx, uint8_t* codes, size_t OH, size_t OW, size_t W) {
  const hn::ScalableTag<float> d;
  const hn::RebindToSigned<decltype(d)> di;
  using VF = hn::Vec<decltype(d)>;
  using VI = hn::Vec<decltype(di)>;
  const size_t N = hn::Lanes(d);
  HWY_ALIGN int32_t code[kMaxLanes];
#if HWY_TARGET != HWY_SCALAR
  // Positions computed in vectors where they fit int32 (one scalar store per output was a third of this
  // kernel's time: seed-cnn's max pool forward took 5x a copy of its input).
  const bool wide = static_cast<int64_t>(2 * OH) * static_cast<int64_t>(W) < (int64_t{1} << 31);
  const hn::Half<decltype(di)> dh;
  const hn::Rebind<int64_t, decltype(dh)> d64;
  const VI iota2 = hn::ShiftLeft<1>(hn::Iota(di, 0));
  const VI vw = hn::Set(di, static_cast<int32_t>(wide ? W : 0));
#endif
  for (size_t oh = 0; oh < OH; ++oh) {
    const float* r0 = x + 2 * oh * W;
    float* yr = y + oh * OW;
    int64_t* ir = idx ? idx + oh * OW : nullptr;
    const int64_t row0 = static_cast<int64_t>(2 * oh * W), w = static_cast<int64_t>(W);
    for (size_t ow = 0; ow < OW; ow += N) {
      const size_t n = OW - ow < N ? OW - ow : N;  // outputs in this vector
      VF a0, a1, b0, b1;  // two vectors of each input row
      LoadPair(d, r0 + 2 * ow, n, a0, a1);
      LoadPair(d, r0 + W + 2 * ow, n, b0, b1);
      const VF c[4] = {EveryOther<false>(d, a1, a0), EveryOther<true>(d, a1, a0), EveryOther<false>(d, b1, b0),
                       EveryOther<true>(d, b1, b0)};
      VF mv = c[0];
      VI k = hn::Zero(di);
      for (int j = 1; j < 4; ++j) {
        const auto t = hn::Or(hn::Gt(c[j], mv), hn::IsNaN(c[j]));
        mv = hn::IfThenElse(t, c[j], mv);
        k = hn::IfThenElse(hn::RebindMask(di, t), hn::Set(di, j), k);
      }
      StoreFirst(d, mv, n, yr + ow);
      if (!idx) {
        const hn::Rebind<uint8_t, decltype(di)> d8;
        uint8_t* cr = codes + oh * OW + ow;
        const auto k8 = hn::DemoteTo(d8, k);
        if (n == N || (oh * OW + ow + N) <= OH * OW) {
          // A short row's vector may run into the next rows' codes, which this thread writes next; never past
          // the plane (another thread's).
          hn::StoreU(k8, d8, cr);
        } else {
          HWY_ALIGN uint8_t buf[kMaxLanes];
          hn::Store(k8, d8, buf);
          std::memcpy(cr, buf, n);
        }
        continue;
      }
#if HWY_TARGET != HWY_SCALAR
      if (wide) {
        // The positions as int32 lanes (the plane has fewer than 2^31 elements), widened to int64 in halves.
        const VI pos = hn::Add(hn::Add(hn::Set(di, static_cast<int32_t>(row0 + 2 * static_cast<int64_t>(ow))), iota2),
                               hn::Add(hn::And(k, hn::Set(di, 1)), hn::Mul(hn::ShiftRight<1>(k), vw)));
        const auto lo = hn::PromoteTo(d64, hn::LowerHalf(dh, pos));
        const auto hi = hn::PromoteTo(d64, hn::UpperHalf(dh, pos));
        const size_t h = N / 2;
        StoreFirst(d64, lo, n < h ? n : h, ir + ow);
        if (n > h) StoreFirst(d64, hi, n - h, ir + ow + h);
        continue;
      }
#endif
      hn::Store(k, di, code);
      for (size_t l = 0; l < n; ++l) {
        const int64_t kk = code[l];
        ir[ow + l] = row0 + 2 * static_cast<int64_t>(ow + l) + (kk & 1) + (kk >> 1) * w;
      }
    }
  }
}

// The input gradient of one plane from its window codes: every element written, the window's winner gets
// 0 + gy (as the generic backward's += into zeros: -0.0 becomes +0.0), the rest of the window and the rows and
// columns no window covers get 0. A window's two values per row are one 64-bit lane: the gradient's bits
// shifted into the winner's half, so a row of windows is written in order without interleaving lanes.
void MaxPool2x2BackwardPlaneF32(const float* gy, const uint8_t* codes, float* gx, size_t OH, size_t OW, size_t H,
                                size_t W) {
  for (size_t oh = 0; oh < OH; ++oh) {
    const float* gr = gy + oh * OW;
    const uint8_t* cr = codes + oh * OW;
    float* r0 = gx + 2 * oh * W;
    float* r1 = r0 + W;
    size_t ow = 0;
#if HWY_TARGET != HWY_SCALAR && HWY_TARGET != HWY_EMU128
    const hn::ScalableTag<float> d;
    const hn::RebindToUnsigned<decltype(d)> du;
    const hn::Rebind<uint8_t, decltype(du)> d8;
    const hn::Half<decltype(du)> dh;
    const hn::Repartition<uint64_t, decltype(du)> d64;
    const size_t N = hn::Lanes(d), h = N / 2;
    for (; ow < OW; ow += N) {
      const size_t n = OW - ow < N ? OW - ow : N;
      hn::Vec<decltype(d)> g;
      hn::Vec<decltype(du)> k;
      // The codes may be read past the last (see max_pool_2x2_backward); the gradient is not.
      k = hn::PromoteTo(du, hn::LoadU(d8, cr + ow));
      g = n == N ? hn::LoadU(d, gr + ow) : LoadFirst(d, gr + ow, n);
      const auto gu = hn::BitCast(du, hn::Add(hn::Zero(d), g));
      const auto one = hn::Set(d64, 1);
      auto rows = [&](hn::Vec<decltype(d64)> G, hn::Vec<decltype(d64)> K, size_t at, size_t m) HWY_ATTR {
        const auto v = G << hn::ShiftLeft<5>(hn::And(K, one));
        const auto top = hn::Eq(hn::ShiftRight<1>(K), hn::Zero(d64));
        StoreFirst(d64, hn::IfThenElseZero(top, v), m, reinterpret_cast<uint64_t*>(r0 + 2 * at));
        StoreFirst(d64, hn::IfThenZeroElse(top, v), m, reinterpret_cast<uint64_t*>(r1 + 2 * at));
      };
      rows(hn::PromoteTo(d64, hn::LowerHalf(dh, gu)), hn::PromoteTo(d64, hn::LowerHalf(dh, k)), ow, n < h ? n : h);
      if (n > h)
        rows(hn::PromoteTo(d64, hn::UpperHalf(dh, gu)), hn::PromoteTo(d64, hn::UpperHalf(dh, k)), ow + h, n - h);
    }
#endif
    for (; ow < OW; ++ow) {
      const float v = 0.0f + gr[ow];
      const uint8_t c = cr[ow];
      r0[2 * ow] = c == 0 ? v : 0.0f;
      r0[2 * ow + 1] = c == 1 ? v : 0.0f;
      r1[2 * ow] = c == 2 ? v : 0.0f;
      r1[2 * ow + 1] = c == 3 ? v : 0.0f;
    }
    for (size_t c = 2 * OW; c < W; ++c) r0[c] = r1[c] = 0.0f;
  }
  std::fill(gx + 2 * OH * W, gx + H * W, 0.0f);
}

}  // namespace actlab::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace actlab::kernels {
HWY_EXPORT(MaxPool2x2PlaneF32);
HWY_EXPORT(MaxPool2x2BackwardPlaneF32);

void max_pool_2x2(const float* x, float* y, int64_t* idx, uint8_t* codes, int64_t planes, int64_t H, int64_t W,
                  int64_t OH, int64_t OW) {
  const int64_t HW = H * W, OHW = OH * OW;
  detail::parallel_for(planes, planes * HW > 16384, [&](int64_t pl, int) {
    HWY_DYNAMIC_DISPATCH(MaxPool2x2PlaneF32)(x + pl * HW, y + pl * OHW, idx ? idx + pl * OHW : nullptr,
                                             idx ? nullptr : codes + pl * OHW, static_cast<size_t>(OH),
                                             static_cast<size_t>(OW), static_cast<size_t>(W));
  });
}

void max_pool_2x2_backward(const float* gy, const uint8_t* codes, float* gx, int64_t planes, int64_t H, int64_t W,
                           int64_t OH, int64_t OW) {
  const int64_t HW = H * W, OHW = OH * OW;
  detail::parallel_for(planes, planes * HW > 16384, [&](int64_t pl, int) {
    HWY_DYNAMIC_DISPATCH(MaxPool2x2BackwardPlaneF32)(gy + pl * OHW, codes + pl * OHW, gx + pl * HW,
                                                     static_cast<size_t>(OH), static_cast<size_t>(OW),
                                                     static_cast<size_t>(H), static_cast<size_t>(W));
  });
}
}  // namespace actlab::kernels
#endif  // HWY_ONCE
