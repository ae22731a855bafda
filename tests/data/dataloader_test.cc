// DataLoader: coverage and order of epochs, drop_last, resuming, the background worker's shutdown and errors.
#include "actlab/data/dataloader.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include "actlab/actlab.h"
#include "actlab/data/transforms.h"

namespace actlab::data {
namespace {

// inputs [n, 2] with row i = (i, -i), targets [n] = i
std::pair<Tensor, Tensor> numbered(int64_t n) {
  std::vector<float> v;
  for (int64_t i = 0; i < n; ++i) {
    v.push_back(static_cast<float>(i));
    v.push_back(static_cast<float>(-i));
  }
  return {from_vector(v, {n, 2}), arange(static_cast<double>(n), {Dtype::Int64})};
}

std::vector<int64_t> epoch_targets(const DataLoader& l, int64_t e, int64_t start = 0) {
  std::vector<int64_t> seen;
  for (auto& b : l.epoch(e, start)) {
    const int64_t* t = b.target.data_ptr<int64_t>();
    const float* d = b.data.data_ptr<float>();
    for (int64_t k = 0; k < b.target.numel(); ++k) {
      EXPECT_EQ(d[2 * k], static_cast<float>(t[k]));  // data rows travel with their targets
      EXPECT_EQ(d[2 * k + 1], -static_cast<float>(t[k]));
      seen.push_back(t[k]);
    }
  }
  return seen;
}

TEST(DataLoaderTest, SequentialBatches) {
  auto [x, y] = numbered(10);
  for (bool bg : {true, false}) {
    DataLoader l(x, y, {.batch_size = 4, .background = bg});
    EXPECT_EQ(l.len(), 3);
    EXPECT_EQ(l.size(), 10);
    std::vector<int64_t> sizes, idx;
    for (auto& b : l.epoch(0)) {
      sizes.push_back(b.data.size(0));
      idx.push_back(b.index);
      EXPECT_EQ(b.data.sizes(), (Shape{b.data.size(0), 2}));
    }
    EXPECT_EQ(sizes, (std::vector<int64_t>{4, 4, 2}));
    EXPECT_EQ(idx, (std::vector<int64_t>{0, 1, 2}));
    std::vector<int64_t> expect(10);
    for (int64_t i = 0; i < 10; ++i) expect[i] = i;
    EXPECT_EQ(epoch_targets(l, 0), expect);
  }
}

TEST(DataLoaderTest, ShuffleSeesEveryIndexOnceDeterministically) {
  auto [x, y] = numbered(103);
  DataLoader a(x, y, {.batch_size = 8, .shuffle = true, .seed = 5});
  DataLoader b(x, y, {.batch_size = 8, .shuffle = true, .seed = 5});
  DataLoader c(x, y, {.batch_size = 8, .shuffle = true, .seed = 6});
  auto e0 = epoch_targets(a, 0), e1 = epoch_targets(a, 1);
  for (const auto& e : {e0, e1}) {
    ASSERT_EQ(e.size(), 103u);
    std::set<int64_t> s(e.begin(), e.end());
    EXPECT_EQ(s.size(), 103u);
    EXPECT_EQ(*s.begin(), 0);
    EXPECT_EQ(*s.rbegin(), 102);
  }
  EXPECT_NE(e0, e1);                         // reshuffled each epoch
  EXPECT_EQ(e0, epoch_targets(b, 0));        // same seed, same order
  EXPECT_EQ(e1, epoch_targets(b, 1));
  EXPECT_EQ(e0, epoch_targets(a, 0));        // repeatable
  EXPECT_NE(e0, epoch_targets(c, 0));        // other seed
  EXPECT_EQ(e1, epoch_targets(c, 0));        // seed + epoch: seed 5 epoch 1 == seed 6 epoch 0
  std::vector<int64_t> sorted = e0;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_NE(sorted, e0);
  EXPECT_EQ(a.indices(1), e1);
}

TEST(DataLoaderTest, DropLast) {
  auto [x, y] = numbered(10);
  DataLoader l(x, y, {.batch_size = 4, .shuffle = true, .seed = 1, .drop_last = true});
  EXPECT_EQ(l.len(), 2);
  std::vector<int64_t> sizes;
  for (auto& b : l.epoch(3)) sizes.push_back(b.target.size(0));
  EXPECT_EQ(sizes, (std::vector<int64_t>{4, 4}));
  auto seen = epoch_targets(l, 3);
  auto order = l.indices(3);
  EXPECT_EQ(seen, std::vector<int64_t>(order.begin(), order.begin() + 8));
  DataLoader exact(x, y, {.batch_size = 5, .drop_last = true});
  EXPECT_EQ(exact.len(), 2);
  DataLoader tiny(x, y, {.batch_size = 11, .drop_last = true});
  EXPECT_EQ(tiny.len(), 0);
  EXPECT_TRUE(epoch_targets(tiny, 0).empty());
}

TEST(DataLoaderTest, ResumeAtBatch) {
  auto [x, y] = numbered(50);
  auto noise = [](Batch& b, Generator& g) { b.data = b.data + rand(b.data.sizes(), {}, &g); };
  DataLoader l(x, y, {.batch_size = 7, .shuffle = true, .seed = 9, .transform = noise});
  std::vector<Batch> full;
  for (auto& b : l.epoch(2)) full.push_back(b);
  ASSERT_EQ(static_cast<int64_t>(full.size()), l.len());
  std::vector<Batch> tail;
  for (auto& b : l.epoch(2, 4)) tail.push_back(b);
  ASSERT_EQ(tail.size(), full.size() - 4);
  for (size_t k = 0; k < tail.size(); ++k) {
    EXPECT_EQ(tail[k].index, static_cast<int64_t>(k + 4));
    EXPECT_TRUE(tail[k].data.equal(full[k + 4].data)) << k;  // same rows and the same random transform
    EXPECT_TRUE(tail[k].target.equal(full[k + 4].target)) << k;
    EXPECT_TRUE(l.get_batch(2, static_cast<int64_t>(k + 4)).data.equal(full[k + 4].data));
  }
  EXPECT_EQ(epoch_targets(l, 2, l.len()).size(), 0u);
  EXPECT_THROW(l.epoch(2, l.len() + 1), IndexError);
  EXPECT_THROW(l.epoch(2, -1), IndexError);
}

TEST(DataLoaderTest, TransformRunsPerBatchWithBatchedFastPath) {
  Generator g0(4);
  Tensor x = rand({20, 1, 6, 6}, {}, &g0);
  Tensor y = zeros({20}, {Dtype::Int64});
  transforms::Compose aug(transforms::RandomCrop(6, 1), transforms::RandomHorizontalFlip(),
                          transforms::Normalize({0.5}, {0.25}));
  DataLoader l(x, y, {.batch_size = 6, .transform = [&](Batch& b, Generator& g) { b.data = aug.apply_batch(b.data, g); }});
  for (auto& b : l.epoch(0)) {
    Generator g = l.batch_generator(0, b.index);
    Tensor expect = aug.apply_batch(x.narrow(0, b.index * 6, b.data.size(0)), g);
    EXPECT_TRUE(b.data.equal(expect)) << b.index;
  }
}

TEST(DataLoaderTest, NextStyleAndEarlyBreakDoNotHang) {
  auto [x, y] = numbered(1000);
  DataLoader l(x, y, {.batch_size = 3, .shuffle = true, .seed = 2});
  auto t0 = std::chrono::steady_clock::now();
  for (int rep = 0; rep < 50; ++rep) {
    int n = 0;
    for (auto& b : l.epoch(rep)) {
      (void)b;
      if (++n == 2) break;  // abandon the loop with the worker blocked on a full queue
    }
    Epoch e = l.epoch(rep);  // never consumed at all
  }
  Epoch e = l.epoch(0);
  int count = 0;
  while (auto b = e.next()) ++count;
  EXPECT_EQ(count, l.len());
  EXPECT_FALSE(e.next().has_value());
  // Moved-from epochs and epochs outliving their loader are fine too.
  Epoch moved = std::move(e);
  EXPECT_FALSE(moved.next().has_value());
  std::optional<Epoch> orphan;
  {
    DataLoader tmp(x, y, {.batch_size = 10});
    orphan.emplace(tmp.epoch(0));
  }
  int m = 0;
  while (orphan->next()) ++m;
  EXPECT_EQ(m, 100);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(60));
}

TEST(DataLoaderTest, PrefetchIsBounded) {
  auto [x, y] = numbered(100);
  std::atomic<int> built{0};
  DataLoader l(x, y, {.batch_size = 1, .transform = [&](Batch&, Generator&) { ++built; }});
  Epoch e = l.epoch(0);
  auto first = e.next();
  ASSERT_TRUE(first.has_value());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  // one consumed + at most 2 queued + at most 1 being built
  EXPECT_LE(built.load(), 4);
  EXPECT_GE(built.load(), 1);
}

TEST(DataLoaderTest, WorkerExceptionReachesConsumer) {
  auto [x, y] = numbered(20);
  auto fail_at_3 = [](Batch& b, Generator&) {
    if (b.index == 3) throw ValueError("bad batch 3");
  };
  for (bool bg : {true, false}) {
    DataLoader l(x, y, {.batch_size = 2, .transform = fail_at_3, .background = bg});
    std::vector<int64_t> got;
    std::string msg;
    try {
      for (auto& b : l.epoch(0)) got.push_back(b.index);
    } catch (const ValueError& e) {
      msg = e.what();
    }
    EXPECT_EQ(msg, "bad batch 3");
    EXPECT_EQ(got, (std::vector<int64_t>{0, 1, 2}));  // batches before the failure arrive, in order
  }
}

TEST(DataLoaderTest, RejectsBadArguments) {
  auto [x, y] = numbered(5);
  EXPECT_THROW(DataLoader(x, arange(4.0, {Dtype::Int64})), ValueError);
  EXPECT_THROW(DataLoader(x, y, {.batch_size = 0}), ValueError);
  EXPECT_THROW(DataLoader(Tensor(), y), ValueError);
}

}  // namespace
}  // namespace actlab::data
