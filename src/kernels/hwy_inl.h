// Per-target helpers shared by the Highway kernels; included after <hwy/highway.h> in each kernel source, once
// per target (Highway's foreach_target re-includes the source, and the guard below toggles with it).
#if defined(ACTLAB_KERNELS_HWY_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef ACTLAB_KERNELS_HWY_INL_H_
#undef ACTLAB_KERNELS_HWY_INL_H_
#else
#define ACTLAB_KERNELS_HWY_INL_H_
#endif

#include <cstddef>
#include <cstring>

#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace actlab::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Keeps v in a register: GCC otherwise folds a loaded or broadcast vector into every multiply-add that uses it
// as a memory operand, one load per use, and the loads (not the multiply-adds) then set the pace.
template <class V>
HWY_INLINE void InRegister(V& v) {
#if HWY_ARCH_X86 && HWY_TARGET != HWY_SCALAR && HWY_TARGET != HWY_EMU128
  asm("" : "+v"(v.raw));
#else
  (void)v;
#endif
}

// The first n (< Lanes) values at p, the other lanes zero; nothing past p + n is read: a masked load on AVX2 and
// AVX-512, a copy elsewhere (Highway's MaskedLoad there is a whole aligned load, which may fault or run past the
// array).
template <class D>
HWY_INLINE hn::Vec<D> LoadFirst(D d, const hn::TFromD<D>* p, size_t n) {
#if HWY_TARGET <= HWY_AVX2
  return hn::MaskedLoad(hn::FirstN(d, n), d, p);
#else
  HWY_ALIGN hn::TFromD<D> buf[hn::MaxLanes(D())] = {};
  std::memcpy(buf, p, n * sizeof(hn::TFromD<D>));
  return hn::Load(d, buf);
#endif
}

// The first n (<= Lanes) lanes of v to p; nothing past p + n is written.
template <class D, class V>
HWY_INLINE void StoreFirst(D d, V v, size_t n, hn::TFromD<D>* p) {
  if (n == hn::Lanes(d)) return hn::StoreU(v, d, p);
#if HWY_TARGET <= HWY_AVX2
  hn::BlendedStore(v, hn::FirstN(d, n), d, p);
#else
  HWY_ALIGN hn::TFromD<D> buf[hn::MaxLanes(D())];
  hn::Store(v, d, buf);
  std::memcpy(p, buf, n * sizeof(hn::TFromD<D>));
#endif
}

}  // namespace actlab::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // ACTLAB_KERNELS_HWY_INL_H_ toggle
