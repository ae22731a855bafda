// Pooling kernels (SIMD, runtime dispatch); the generic loops live in src/ops/pool_ops.cc.
#pragma once

#include <cstdint>

namespace actlab::kernels {

// MaxPool2d with kernel 2, stride 2, no padding or dilation, over `planes` contiguous H x W planes
// (2 OH <= H, 2 OW <= W): y the window maxima, idx their positions within the plane, with the generic
// loop's rule (window order; a later element wins when greater or NaN). With idx null, `codes` gets each
// winner's place in its window instead (0 top left, 1 top right, 2 bottom left, 3 bottom right): an eighth of
// the bytes, for the backward of a max_pool2d whose indices nobody asked for.
void max_pool_2x2(const float* x, float* y, int64_t* idx, uint8_t* codes, int64_t planes, int64_t H, int64_t W,
                  int64_t OH, int64_t OW);
// The input gradient [planes, H, W] of max_pool_2x2 from the output gradient and the codes: every element is
// written (no zeroing first), with the same values as the generic backward. `codes` must have
// kMaxPoolCodesPad readable bytes after the last (vector loads of a short row run past it).
constexpr int64_t kMaxPoolCodesPad = 64;
void max_pool_2x2_backward(const float* gy, const uint8_t* codes, float* gx, int64_t planes, int64_t H, int64_t W,
                           int64_t OH, int64_t OW);

}  // namespace actlab::kernels
