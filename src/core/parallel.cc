// The thread pool behind detail::parallel_for (see parallel.h for why it is not OpenMP).
#include "core/parallel.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define ACTLAB_PAUSE() _mm_pause()
#else
#define ACTLAB_PAUSE() ((void)0)
#endif

namespace actlab::detail {
namespace {

thread_local bool t_in_job = false;

// Sets omp_set_num_threads(1) and the in-job flag for the lifetime of a job on the calling thread.
class JobScope {
 public:
  JobScope() : omp_threads_(omp_get_max_threads()) {
    t_in_job = true;
    if (omp_threads_ != 1) omp_set_num_threads(1);
  }
  ~JobScope() {
    t_in_job = false;
    if (omp_threads_ != 1) omp_set_num_threads(omp_threads_);
  }
  JobScope(const JobScope&) = delete;
  JobScope& operator=(const JobScope&) = delete;

 private:
  int omp_threads_;
};

// How long an idle worker spins before it sleeps: long enough to cover the gaps between the parallel loops
// of a training step, short enough not to hold a core when the program has gone serial.
constexpr auto kSpin = std::chrono::microseconds(200);
// ... of which the first part without yielding the core.
constexpr auto kSpinAlone = std::chrono::microseconds(50);

class Pool {
 public:
  ~Pool() {
    {
      std::lock_guard<std::mutex> lk(sleep_m_);
      stop_.store(true);
      generation_.fetch_add(uint64_t{1} << kCountBits);
    }
    sleep_cv_.notify_all();
    for (auto& t : workers_) t.join();
  }

  static constexpr int kCountBits = 16;
  static_assert(kMaxThreads < (1 << kCountBits), "a job's thread count must fit its bits of generation_");
  static constexpr uint64_t kCountMask = (uint64_t{1} << kCountBits) - 1;

  void run(int threads, void (*job)(void*, int), void* ctx) {
    std::unique_lock<std::mutex> busy(dispatch_m_, std::try_to_lock);
    if (!busy.owns_lock()) return serial(threads, job, ctx);
    static const unsigned cores = std::thread::hardware_concurrency();  // reads /sys: once, not per job
    oversubscribed_.store(cores > 0 && static_cast<unsigned>(threads) > cores, std::memory_order_relaxed);
    while (static_cast<int>(workers_.size()) < threads - 1) {
      const int tid = static_cast<int>(workers_.size()) + 1;
      workers_.emplace_back([this, tid] { worker(tid); });
    }
    job_ = job;
    ctx_ = ctx;
    error_ = nullptr;
    remaining_.store(threads - 1);
    // The new generation with its thread count in the low bits (a worker that sits out this job reads only
    // this word). seq_cst: ordered before the load of sleepers_ below (see worker()).
    const uint64_t g = generation_.load();
    generation_.store(((g >> kCountBits) + 1) << kCountBits | static_cast<uint64_t>(threads));
    if (sleepers_.load() > 0) {
      std::lock_guard<std::mutex> lk(sleep_m_);
      sleep_cv_.notify_all();
    }
    {
      JobScope scope;
      try {
        job(ctx, 0);
      } catch (...) {
        record(std::current_exception());
      }
    }
    for (unsigned spins = 0; remaining_.load(std::memory_order_acquire) != 0; ++spins) {
      ACTLAB_PAUSE();
      if (spins > 4096) std::this_thread::yield();  // a worker was descheduled: give it the core
    }
    if (error_) std::rethrow_exception(error_);
  }

 private:
  static void serial(int threads, void (*job)(void*, int), void* ctx) {
    for (int tid = 0; tid < threads; ++tid) job(ctx, tid);
  }

  void record(std::exception_ptr e) {
    std::lock_guard<std::mutex> lk(error_m_);
    if (!error_) error_ = e;
  }

  void worker(int tid) {
    omp_set_num_threads(1);  // GEMMs inside jobs stay on this thread
    uint64_t seen = 0;
    for (;;) {
      uint64_t g = generation_.load(std::memory_order_acquire);
      if (g == seen) {
        // Spin (the next job of a training step comes within microseconds), then spin yielding the core now and
        // then (another process may want it: two 2-thread seed-cnn benchmarks at once on 2 cores each ran at 30%
        // of one alone while the workers spun without yielding), then sleep. With more pool threads than cores,
        // spinning only takes the core from a thread that still works: sleep at once (libgomp throttles its
        // spinning the same way; 4 threads on 2 cores: 9.3k -> 14.8k images/s).
        const auto start = std::chrono::steady_clock::now();
        const auto polite = start + (oversubscribed_ ? std::chrono::microseconds(0) : kSpinAlone);
        const auto until = start + (oversubscribed_ ? std::chrono::microseconds(0) : kSpin);
        for (unsigned spins = 1; (g = generation_.load(std::memory_order_acquire)) == seen; ++spins) {
          ACTLAB_PAUSE();
          if (spins % 256 != 0) continue;
          const auto now = std::chrono::steady_clock::now();
          if (now > polite) std::this_thread::yield();
          if (now > until) {
            // Sleep. Registering as a sleeper before the last look at generation_ (both seq_cst) means the
            // dispatcher either sees the sleeper and notifies, or this thread sees the new generation.
            std::unique_lock<std::mutex> lk(sleep_m_);
            sleepers_.fetch_add(1);
            sleep_cv_.wait(lk, [&] { return generation_.load() != seen; });
            sleepers_.fetch_sub(1);
          }
        }
      }
      seen = g;
      if (stop_.load()) return;
      if (tid >= static_cast<int>(g & kCountMask)) continue;
      {
        JobScope scope;
        try {
          job_(ctx_, tid);
        } catch (...) {
          record(std::current_exception());
        }
      }
      remaining_.fetch_sub(1, std::memory_order_release);
    }
  }

  std::mutex dispatch_m_;  // one dispatching thread at a time
  std::vector<std::thread> workers_;
  // The current job: written by the dispatcher before generation_ changes, read after it by the workers that
  // take part (the dispatcher waits for all of them before it writes the next job).
  void (*job_)(void*, int) = nullptr;
  void* ctx_ = nullptr;
  std::exception_ptr error_;
  std::mutex error_m_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> remaining_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
  std::atomic<bool> oversubscribed_{false};  // this job has more threads than the machine has cores
  std::mutex sleep_m_;
  std::condition_variable sleep_cv_;
};

Pool& pool() {
  static Pool p;
  return p;
}

std::atomic<int> g_max_threads{0};

}  // namespace

int max_threads() {
  int n = g_max_threads.load(std::memory_order_relaxed);
  if (n > 0) return n;
  n = std::clamp(omp_get_max_threads(), 1, kMaxThreads);  // OMP_NUM_THREADS, else the cores
  g_max_threads.store(n, std::memory_order_relaxed);
  return n;
}

void set_max_threads(int n) { g_max_threads.store(std::clamp(n, 1, kMaxThreads), std::memory_order_relaxed); }

bool in_parallel() { return t_in_job; }

void run_on_threads(int threads, void (*job)(void*, int), void* ctx) {
  if (threads <= 1) return job(ctx, 0);
  if (t_in_job) {
    for (int tid = 0; tid < threads; ++tid) job(ctx, tid);
    return;
  }
  pool().run(threads, job, ctx);
}

}  // namespace actlab::detail
