// Pooling kernels (SIMD, runtime dispatch); the generic loops live in src/ops/pool_ops.cc.
#pragma once

#include <cstdint>

namespace actlab::kernels {

// MaxPool2d with kernel 2, stride 2, no padding or dilation, over `planes` contiguous H x W planes
// (2 OH <= H, 2 OW <= W): y the window maxima, idx their positions within the plane, with the generic
// loop's rule (window order; a later element wins when greater or NaN).
void max_pool_2x2(const float* x, float* y, int64_t* idx, int64_t planes, int64_t H, int64_t W, int64_t OH,
                  int64_t OW);

}  // namespace actlab::kernels
