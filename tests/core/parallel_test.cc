// The thread pool behind every parallel loop (src/core/parallel.h).
#include "core/parallel.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "actlab/actlab.h"

namespace actlab::detail {
namespace {

// Restores the thread count a test changed.
struct ThreadsGuard {
  int saved = get_num_threads();
  ~ThreadsGuard() { set_num_threads(saved); }
};

TEST(Parallel, EveryIndexOnceInStaticBlocks) {
  for (int threads : {1, 2, 3, 4}) {
    for (int64_t n : {0, 1, 2, 3, 5, 7, 64, 1001}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      std::vector<int> owner(static_cast<size_t>(n), -1);
      parallel_for(
          n, true,
          [&](int64_t i, int tid) {
            hits[static_cast<size_t>(i)].fetch_add(1);
            owner[static_cast<size_t>(i)] = tid;
          },
          threads);
      const int used = static_cast<int>(std::min<int64_t>(threads, n));
      for (int64_t i = 0; i < n; ++i) {
        ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << "n " << n << " threads " << threads << " i " << i;
        // OpenMP's schedule(static) split: thread t owns one contiguous block, the first n % t one longer.
        int64_t b, e;
        const int tid = owner[static_cast<size_t>(i)];
        ASSERT_GE(tid, 0);
        ASSERT_LT(tid, std::max(used, 1));
        static_block(n, std::max(used, 1), tid, b, e);
        EXPECT_TRUE(b <= i && i < e) << "n " << n << " threads " << threads << " i " << i << " tid " << tid;
      }
    }
  }
}

TEST(Parallel, StaticBlocksMatchOpenMP) {
  int64_t b, e;
  static_block(10, 3, 0, b, e);
  EXPECT_EQ(b, 0);
  EXPECT_EQ(e, 4);
  static_block(10, 3, 1, b, e);
  EXPECT_EQ(b, 4);
  EXPECT_EQ(e, 7);
  static_block(10, 3, 2, b, e);
  EXPECT_EQ(b, 7);
  EXPECT_EQ(e, 10);
}

TEST(Parallel, RunsOnSeveralThreadsAndNestedLoopsRunSerially) {
  ThreadsGuard guard;
  set_num_threads(2);
  EXPECT_EQ(max_threads(), 2);
  EXPECT_FALSE(in_parallel());
  std::mutex m;
  std::set<std::thread::id> ids;
  std::atomic<int> nested_calls{0}, inner_tids_nonzero{0};
  std::atomic<bool> inside{true};
  run_threads(2, [&](int tid) {
    {
      std::lock_guard<std::mutex> lk(m);
      ids.insert(std::this_thread::get_id());
    }
    if (!in_parallel()) inside = false;
    // GEMMs called from a job must stay on their thread (oneDNN reads the OpenMP thread count).
    if (omp_get_max_threads() != 1) inside = false;
    parallel_for(8, true, [&](int64_t, int inner) {
      nested_calls.fetch_add(1);
      if (inner != 0) inner_tids_nonzero.fetch_add(1);
    });
  });
  EXPECT_EQ(ids.size(), 2u);
  EXPECT_TRUE(inside.load());
  EXPECT_EQ(nested_calls.load(), 16);
  EXPECT_EQ(inner_tids_nonzero.load(), 0);
  EXPECT_FALSE(in_parallel());
  EXPECT_EQ(omp_get_max_threads(), 2);  // the caller's OpenMP count is restored after the job
}

TEST(Parallel, AnExceptionReachesTheCallerAndThePoolStaysUsable) {
  for (int thrower : {0, 1}) {
    EXPECT_THROW(run_threads(2,
                             [&](int tid) {
                               if (tid == thrower) throw std::runtime_error("boom");
                             }),
                 std::runtime_error);
    EXPECT_FALSE(in_parallel());
    std::atomic<int> n{0};
    parallel_for(100, true, [&](int64_t, int) { n.fetch_add(1); }, 2);
    EXPECT_EQ(n.load(), 100);
  }
}

TEST(Parallel, TwoCallingThreadsAtOnceBothFinish) {
  // The pool serves one caller at a time; a second caller runs its loop itself.
  std::atomic<int64_t> a{0}, b{0};
  auto work = [](std::atomic<int64_t>& sum) {
    for (int rep = 0; rep < 200; ++rep)
      parallel_for(1000, true, [&](int64_t i, int) { sum.fetch_add(i); }, 2);
  };
  std::thread t1([&] { work(a); });
  std::thread t2([&] { work(b); });
  t1.join();
  t2.join();
  EXPECT_EQ(a.load(), 200 * 999 * 1000 / 2);
  EXPECT_EQ(b.load(), 200 * 999 * 1000 / 2);
}

TEST(Parallel, SleepingWorkersWakeUp) {
  // Workers spin for a while after a job, then sleep; a job after a pause must wake them.
  for (int rep = 0; rep < 3; ++rep) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::atomic<int> ran{0};
    run_threads(3, [&](int) { ran.fetch_add(1); });
    EXPECT_EQ(ran.load(), 3);
  }
}

TEST(Parallel, MoreThreadsThanCoresStillFinish) {
  // Oversubscribed, the workers sleep after each job instead of spinning; every job must still run whole.
  const int threads = 2 * static_cast<int>(std::max(1u, std::thread::hardware_concurrency())) + 1;
  for (int rep = 0; rep < 20; ++rep) {
    std::atomic<int> ran{0};
    std::atomic<int64_t> sum{0};
    run_threads(threads, [&](int) { ran.fetch_add(1); });
    parallel_for(1000, true, [&](int64_t i, int) { sum.fetch_add(i); }, threads);
    ASSERT_EQ(ran.load(), threads);
    ASSERT_EQ(sum.load(), 999 * 1000 / 2);
  }
}

TEST(Parallel, TheThreadCountIsTheLibrarys) {
  ThreadsGuard guard;
  set_num_threads(3);
  EXPECT_EQ(get_num_threads(), 3);
  EXPECT_EQ(max_threads(), 3);
  EXPECT_THROW(set_num_threads(0), ValueError);
  EXPECT_THROW(set_num_threads(kMaxThreads + 1), ValueError);  // more than a job can count
  EXPECT_EQ(get_num_threads(), 3);
}

}  // namespace
}  // namespace actlab::detail
