// Per-target helpers shared by the Highway kernels; included after <hwy/highway.h> in each kernel source, once
// per target (Highway's foreach_target re-includes the source, and the guard below toggles with it).
#if defined(ACTLAB_KERNELS_REGISTER_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef ACTLAB_KERNELS_REGISTER_INL_H_
#undef ACTLAB_KERNELS_REGISTER_INL_H_
#else
#define ACTLAB_KERNELS_REGISTER_INL_H_
#endif

#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace actlab::kernels::HWY_NAMESPACE {

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

}  // namespace actlab::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // ACTLAB_KERNELS_REGISTER_INL_H_ toggle
