// Which kernels run: the SIMD kernels (runtime-dispatched to the best target of this CPU) or the scalar
// reference kernels, for reproducible results across machines.
#pragma once

#include <string>

namespace actlab::kernels {

// True when the reference kernels run for float (default: SIMD, unless ACTLAB_REFERENCE_KERNELS=1).
bool reference_kernels();
void set_reference_kernels(bool on);
// The SIMD target that runs float kernels now, e.g. "AVX2", "AVX3", "SSE4", or "scalar reference".
std::string simd_target();

}  // namespace actlab::kernels

namespace actlab {
// The GEMM library behind Linear, convolutions and matmul in float32, e.g. "oneDNN 2.6.3".
std::string gemm_backend();
}  // namespace actlab
