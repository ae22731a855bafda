// Internal: the library's own thread pool, used by every parallel loop instead of OpenMP regions.
//
// Why not `#pragma omp parallel`: libgomp makes at least one futex system call per region, even with a
// one-thread team or an if clause that is false (the last thread through a barrier always wakes the others),
// and a system call costs about a microsecond on these virtual machines. Measured (tools-free harness, 2
// threads, 262144 floats): ReLU through an OpenMP region 14.3-14.8 us, through this pool 8.7-10.3 us; a
// region that does nothing, 1.3-1.5 us with one thread and 2.4-3.3 us with two. Here workers spin on an
// atomic generation counter for a while after each job and only then sleep, and the caller wakes sleepers
// only when there are any, so back-to-back jobs make no system call at all.
//
// oneDNN keeps its OpenMP threads: inside a job every participant runs with omp_set_num_threads(1), so a
// GEMM called from a job runs on the calling thread, as it did inside an OpenMP region.
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>

namespace actlab::detail {

// The most threads a job can have (the pool keeps a job's thread count in 16 bits).
inline constexpr int kMaxThreads = 65535;
// The thread count set_num_threads() chose (OMP_NUM_THREADS or the core count by default, at most kMaxThreads).
int max_threads();
void set_max_threads(int n);
// True inside a job: parallel loops there run serially on the calling thread.
bool in_parallel();

// Runs job(ctx, tid) for tid in [0, threads) concurrently (the caller is tid 0) and returns when all are
// done; the first exception thrown by any participant is rethrown here. Inside a job, or while another
// thread of the program is using the pool, the caller runs job(ctx, 0), ..., job(ctx, threads - 1) itself.
void run_on_threads(int threads, void (*job)(void*, int), void* ctx);

// Runs f(tid) on `threads` threads as above.
template <class F>
void run_threads(int threads, F&& f) {
  using Fn = std::remove_reference_t<F>;
  run_on_threads(threads, [](void* c, int tid) { (*static_cast<Fn*>(c))(tid); }, const_cast<void*>(static_cast<const void*>(&f)));
}

// The iterations [begin, end) of thread tid out of `threads` for a loop of n: contiguous blocks, the first
// n % threads one longer (OpenMP's schedule(static) split).
inline void static_block(int64_t n, int threads, int tid, int64_t& begin, int64_t& end) {
  const int64_t q = n / threads, r = n % threads;
  begin = tid * q + std::min<int64_t>(tid, r);
  end = begin + q + (tid < r ? 1 : 0);
}

// f(begin, end, tid) once per thread over [0, n) split into static blocks, on min(threads, n) threads when
// `parallel` is true, else (or when nested) f(0, n, 0) on the caller.
template <class F>
void parallel_blocks(int64_t n, bool parallel, F&& f, int threads = max_threads()) {
  const int t = parallel && !in_parallel() ? static_cast<int>(std::min<int64_t>(threads, n)) : 1;
  if (t <= 1) {
    if (n > 0) f(int64_t{0}, n, 0);
    return;
  }
  run_threads(t, [&](int tid) {
    int64_t b, e;
    static_block(n, t, tid, b, e);
    f(b, e, tid);
  });
}

// body(i, tid) for every i in [0, n), split as parallel_blocks.
template <class F>
void parallel_for(int64_t n, bool parallel, F&& body, int threads = max_threads()) {
  parallel_blocks(
      n, parallel,
      [&](int64_t b, int64_t e, int tid) {
        for (int64_t i = b; i < e; ++i) body(i, tid);
      },
      threads);
}

}  // namespace actlab::detail
