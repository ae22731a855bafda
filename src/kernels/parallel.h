// How the kernels split work across OpenMP threads.
#pragma once

#include <algorithm>
#include <cstdint>

#include "core/parallel.h"
#include "kernels/activation_kernels.h"

namespace actlab::kernels::internal {

// Splits [0, n) into one contiguous chunk per thread, each a multiple of 64 elements (whole vectors and
// cache lines), and calls f(begin, end) on each; one thread below kParallelThreshold.
template <class F>
void parallel_chunks(int64_t n, F&& f) {
  const int64_t threads = detail::max_threads();
  if (n < kParallelThreshold || threads == 1 || detail::in_parallel()) {
    if (n > 0) f(int64_t{0}, n);
    return;
  }
  constexpr int64_t kAlign = 64;
  const int64_t chunk = ((n + threads - 1) / threads + kAlign - 1) / kAlign * kAlign;
  const int64_t chunks = (n + chunk - 1) / chunk;
  detail::parallel_for(chunks, true, [&](int64_t c, int) {
    const int64_t b = c * chunk;
    f(b, std::min(n, b + chunk));
  });
}

}  // namespace actlab::kernels::internal
