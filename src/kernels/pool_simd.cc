// Max pooling over 2x2 windows with stride 2 (the seed CNN's MaxPool2d(2)) on Highway: one source,
// compiled for every x86-64 target and dispatched at run time, like the activation kernels.
//
// The scalar loop this replaces chose each window's maximum with compare-and-branch; on random data those
// branches mispredict about half the time (16% of a seed-CNN training step on one thread). Here a row of
// windows is a few vectors: the top and bottom input rows are split into even and odd columns
// (ConcatEven / ConcatOdd), the four candidates are compared in window order with the scalar rule (a later
// element wins when it is greater or NaN), and the winner's position is carried as a code 0..3.

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/pool_kernels.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/pool_simd.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

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

// One output row: ow in [0, OW); r0, r1 the window's top and bottom input rows; positions are
// row0 + 2 ow (+1 for the right column, +W for the bottom row).
void MaxPool2x2RowF32(const float* r0, const float* r1, float* y, int64_t* idx, size_t OW, int64_t row0,
                      int64_t W) {
  const hn::ScalableTag<float> d;
  const hn::RebindToSigned<decltype(d)> di;
  using VF = hn::Vec<decltype(d)>;
  using VI = hn::Vec<decltype(di)>;
  const size_t N = hn::Lanes(d);
  HWY_ALIGN float in[3][2 * kMaxLanes];
  HWY_ALIGN int32_t code[kMaxLanes];
  for (size_t ow = 0; ow < OW; ow += N) {
    const size_t n = OW - ow < N ? OW - ow : N;  // outputs in this vector
    const float* p0 = r0 + 2 * ow;
    const float* p1 = r1 + 2 * ow;
    VF a0, a1, b0, b1;  // two vectors of each input row
    if (n == N) {
      a0 = hn::LoadU(d, p0);
      a1 = hn::LoadU(d, p0 + N);
      b0 = hn::LoadU(d, p1);
      b1 = hn::LoadU(d, p1 + N);
    } else {  // the row's last, partial vector: only the 2n inputs it owns are read
      std::memcpy(in[0], p0, 2 * n * sizeof(float));
      std::memcpy(in[1], p1, 2 * n * sizeof(float));
      std::memset(in[0] + 2 * n, 0, 2 * (N - n) * sizeof(float));  // lanes past n: computed, not stored
      std::memset(in[1] + 2 * n, 0, 2 * (N - n) * sizeof(float));
      a0 = hn::Load(d, in[0]);
      a1 = hn::Load(d, in[0] + N);
      b0 = hn::Load(d, in[1]);
      b1 = hn::Load(d, in[1] + N);
    }
    const VF c[4] = {EveryOther<false>(d, a1, a0), EveryOther<true>(d, a1, a0), EveryOther<false>(d, b1, b0),
                     EveryOther<true>(d, b1, b0)};
    VF mv = c[0];
    VI k = hn::Zero(di);
    for (int j = 1; j < 4; ++j) {
      const auto t = hn::Or(hn::Gt(c[j], mv), hn::IsNaN(c[j]));
      mv = hn::IfThenElse(t, c[j], mv);
      k = hn::IfThenElse(hn::RebindMask(di, t), hn::Set(di, j), k);
    }
    hn::Store(k, di, code);
    if (n == N) {
      hn::StoreU(mv, d, y + ow);
    } else {
      hn::Store(mv, d, in[2]);
      std::memcpy(y + ow, in[2], n * sizeof(float));
    }
    for (size_t l = 0; l < n; ++l) {
      const int64_t kk = code[l];
      idx[ow + l] = row0 + 2 * static_cast<int64_t>(ow + l) + (kk & 1) + (kk >> 1) * W;
    }
  }
}

}  // namespace actlab::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace actlab::kernels {
HWY_EXPORT(MaxPool2x2RowF32);

void max_pool_2x2(const float* x, float* y, int64_t* idx, int64_t planes, int64_t H, int64_t W, int64_t OH,
                  int64_t OW) {
  const int64_t HW = H * W, OHW = OH * OW;
#pragma omp parallel for schedule(static) if (planes * HW > 16384)
  for (int64_t pl = 0; pl < planes; ++pl)
    for (int64_t oh = 0; oh < OH; ++oh) {
      const float* r0 = x + pl * HW + 2 * oh * W;
      HWY_DYNAMIC_DISPATCH(MaxPool2x2RowF32)(r0, r0 + W, y + pl * OHW + oh * OW, idx + pl * OHW + oh * OW,
                                             static_cast<size_t>(OW), 2 * oh * W, W);
    }
}
}  // namespace actlab::kernels
#endif  // HWY_ONCE
