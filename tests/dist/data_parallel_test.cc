// Data-parallel training: sharding, buckets, SyncBatchNorm's arithmetic in one process, and `mpirun -np 2 actlab
// train` against one process with twice the batch (run only in a build with MPI; ACTLAB_MPIEXEC is set on this
// file alone, so switching ACTLAB_MPI rebuilds nothing else).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "actlab/actlab.h"
#include "actlab/data/dataloader.h"
#include "actlab/dist/data_parallel.h"
#include "actlab/dist/process_group.h"
#include "actlab/nn/functional_layers.h"
#include "actlab/nn/layers.h"
#include "cli/cli_test_util.h"
#include "lab/synthetic_data.h"

#ifndef ACTLAB_MPIEXEC
#define ACTLAB_MPIEXEC ""
#endif

using namespace actlab;
using actlab::testing::run_cli;
using actlab::testing::run_command;
using actlab::testing::TempDir;

namespace {

std::vector<int64_t> labels_of(const data::Batch& b) {
  std::vector<int64_t> v(b.target.data_ptr<int64_t>(), b.target.data_ptr<int64_t>() + b.target.numel());
  return v;
}

// A stand-in for a second rank that holds exactly this rank's data: every all-reduce doubles.
class MirrorGroup : public dist::ProcessGroup {
 public:
  int rank() const override { return 0; }
  int size() const override { return 2; }
  std::string backend() const override { return "mirror"; }
  void broadcast(void*, size_t, int) override {}
  void allreduce_sum(double* d, size_t n) override {
    ++calls;
    for (size_t i = 0; i < n; ++i) d[i] *= 2;
  }
  std::unique_ptr<dist::Work> iallreduce_sum(float* d, size_t n) override {
    for (size_t i = 0; i < n; ++i) d[i] *= 2;
    return dist::single_process()->iallreduce_sum(d, n);
  }
  void allgather(const void* d, size_t bytes, void* out) override {
    std::memcpy(out, d, bytes);
    std::memcpy(static_cast<char*>(out) + bytes, d, bytes);
  }
  [[noreturn]] void abort(int code) override { std::exit(code); }
  int calls = 0;
};

double max_abs_diff(const Tensor& a, const Tensor& b) { return (a - b).abs().max().item<double>(); }

}  // namespace

// Rank r takes positions r, r + N, ... of the epoch's permutation: batch b of both ranks together is batch b of one
// loader with twice the batch size, every epoch, and the shards are disjoint.
TEST(DistSampler, RankShardsInterleaveTheSinglePermutation) {
  const int64_t n = 40;
  Tensor x = arange(n).to(kFloat32).reshape({n, 1});
  Tensor y = arange(n).to(kInt64);
  data::DataLoader one(x, y, {.batch_size = 8, .shuffle = true, .seed = 7, .background = false});
  std::vector<data::DataLoader> ranks;
  for (int64_t r = 0; r < 2; ++r)
    ranks.emplace_back(x, y, data::DataLoaderOptions{.batch_size = 4, .shuffle = true, .seed = 7, .background = false,
                                                     .num_replicas = 2, .rank = r});
  for (int64_t e = 0; e < 3; ++e) {
    ASSERT_EQ(ranks[0].len(), one.len());
    std::set<int64_t> seen;
    for (int64_t b = 0; b < one.len(); ++b) {
      std::vector<int64_t> whole = labels_of(one.get_batch(e, b));
      std::vector<int64_t> r0 = labels_of(ranks[0].get_batch(e, b)), r1 = labels_of(ranks[1].get_batch(e, b));
      for (size_t j = 0; j < r0.size(); ++j) {
        EXPECT_EQ(r0[j], whole[2 * j]);
        EXPECT_EQ(r1[j], whole[2 * j + 1]);
        seen.insert(r0[j]);
        seen.insert(r1[j]);
      }
    }
    EXPECT_EQ(seen.size(), static_cast<size_t>(n)) << "epoch " << e;
  }
  // Another epoch is another order.
  EXPECT_NE(labels_of(ranks[0].get_batch(0, 0)), labels_of(ranks[0].get_batch(1, 0)));
}

TEST(DistSampler, UnevenDataIsPaddedFromTheStartAndBadRanksAreErrors) {
  Tensor x = arange(5).to(kFloat32).reshape({5, 1});
  Tensor y = arange(5).to(kInt64);
  // Three ranks of 5 samples: 2 each, the 6th position repeats the first (DistributedSampler's padding).
  std::vector<int64_t> all;
  for (int64_t r = 0; r < 3; ++r) {
    data::DataLoader l(x, y, {.batch_size = 10, .num_replicas = 3, .rank = r});
    EXPECT_EQ(l.shard_size(), 2);
    EXPECT_EQ(l.len(), 1);
    auto v = l.indices(0);
    all.insert(all.end(), v.begin(), v.end());
  }
  EXPECT_EQ(all, (std::vector<int64_t>{0, 3, 1, 4, 2, 0}));
  EXPECT_THROW((data::DataLoader(x, y, {.num_replicas = 2, .rank = 2})), ValueError);
  EXPECT_THROW((data::DataLoader(x, y, {.num_replicas = 0})), ValueError);
}

TEST(DistDataParallel, BucketsFollowBackwardOrderAndTheCap) {
  manual_seed(0);
  nn::Sequential m;
  m.push_back(std::make_shared<nn::Linear>(100, 50));  // weight 20000 B, bias 200 B
  m.push_back(std::make_shared<nn::Linear>(50, 10));   // weight 2000 B, bias 40 B
  dist::DataParallel ddp(m, dist::single_process(), {.bucket_bytes = 4096});
  // Reverse order: 1.bias + 1.weight (2040 B), then 0.bias (200 B fits: 2240), then 0.weight alone.
  EXPECT_EQ(ddp.bucket_sizes(), (std::vector<size_t>{2240, 20000}));
  dist::DataParallel one(m, dist::single_process());
  EXPECT_EQ(one.bucket_sizes(), (std::vector<size_t>{22240}));
}

// Gradients are summed by the group and divided by its size; with a mirror group they come back unchanged, and
// the buckets started from inside backward.
TEST(DistDataParallel, AveragesGradientsStartedDuringBackward) {
  manual_seed(1);
  nn::Sequential m;
  m.push_back(std::make_shared<nn::Linear>(6, 5));
  m.push_back(std::make_shared<nn::Tanh>());
  m.push_back(std::make_shared<nn::Linear>(5, 3));
  Tensor x = randn({4, 6});
  m(x).pow(2).sum().backward();
  std::vector<Tensor> expected;
  for (auto& p : m.parameters()) expected.push_back(p.grad().clone());
  m.zero_grad();
  auto group = std::make_shared<MirrorGroup>();
  dist::DataParallel ddp(m, group, {.bucket_bytes = 64});
  ddp.before_forward();
  m(x).pow(2).sum().backward();
  ddp.after_backward();
  EXPECT_EQ(ddp.bucket_sizes().size(), 4u);
  EXPECT_EQ(ddp.buckets_started_in_backward(), 4);
  auto params = m.parameters();
  for (size_t i = 0; i < params.size(); ++i) EXPECT_TRUE(params[i].grad().equal(expected[i])) << i;
}

// SyncBatchNorm over two ranks holding the same batch is BatchNorm over that batch twice: the same output, the
// same input and weight gradients, and running statistics with the doubled count.
TEST(DistSyncBatchNorm, TwoIdenticalRanksEqualTheDoubledBatch) {
  manual_seed(2);
  Tensor x = randn({3, 4, 2, 2});
  Tensor g = randn({3, 4, 2, 2});
  auto run = [&](const Tensor& input, dist::ProcessGroup* sync, Tensor& rm, Tensor& rv, Tensor& w) {
    Tensor xi = input.detach().clone().requires_grad_(true);
    w = full({4}, 1.5).requires_grad_(true);
    Tensor b = zeros({4}).requires_grad_(true);
    rm = zeros({4});
    rv = ones({4});
    Tensor y = nn::functional::batch_norm(xi, rm, rv, w, b, true, 0.1, 1e-5, sync);
    Tensor gg = input.size(0) == 3 ? g : cat({g, g}, 0);
    (y * gg).sum().backward();
    return std::make_pair(y.detach(), xi.grad());
  };
  MirrorGroup mirror;
  Tensor rm1, rv1, w1, rm2, rv2, w2;
  auto [y1, gx1] = run(x, &mirror, rm1, rv1, w1);
  EXPECT_EQ(mirror.calls, 3);  // forward: sums and squares; backward: the gradient sums
  auto [y2, gx2] = run(cat({x, x}, 0), nullptr, rm2, rv2, w2);
  EXPECT_LT(max_abs_diff(y1, y2.narrow(0, 0, 3)), 1e-5);
  EXPECT_LT(max_abs_diff(gx1, gx2.narrow(0, 0, 3)), 1e-5);
  EXPECT_LT(max_abs_diff(rm1, rm2), 1e-6);
  EXPECT_LT(max_abs_diff(rv1, rv2), 1e-6);  // unbiased with the count of both ranks
  EXPECT_LT(max_abs_diff(w1.grad() * 2.0, w2.grad()), 1e-4);  // the weight gradient is this rank's half
  // Without the group the statistics are this rank's own: the running variance differs (count 12, not 24).
  Tensor rm3, rv3, w3;
  run(x, nullptr, rm3, rv3, w3);
  EXPECT_GT(max_abs_diff(rv3, rv2), 1e-4);
}

TEST(DistCli, SyncBnNeedsSeveralProcesses) {
  TempDir dir;
  auto r = run_cli("train --model seed-cnn --act ReLU --sync-bn --max-steps 1 --data " + (dir / "none"));
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("actlab: error: --sync-bn synchronizes BatchNorm over the ranks of an MPI run"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
}

namespace {

// mpirun with what a test on one shared machine needs: root allowed, more ranks than cores, one thread each, and no
// stdin (mpirun forwards it to rank 0; reading it from a background job would stop the run).
std::string mpirun(int np) {
  std::string exe = ACTLAB_MPIEXEC;
  if (exe.empty()) exe = "mpirun";
  return "</dev/null env OMP_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 timeout 300 " + exe +
         " -np " + std::to_string(np) + " --oversubscribe --bind-to none " + ACTLAB_CLI_PATH + " ";
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream f(path);
  return nlohmann::json::parse(f);
}

// Largest difference over the parameters of two saved models (and the largest parameter change of `a` from `init`).
double max_param_diff(const std::string& a, const std::string& b) {
  nn::Checkpoint ca = nn::load(a), cb = nn::load(b);
  EXPECT_EQ(ca.tensors.size(), cb.tensors.size());
  double d = 0;
  for (size_t i = 0; i < std::min(ca.tensors.size(), cb.tensors.size()); ++i) {
    EXPECT_EQ(ca.tensors[i].first, cb.tensors[i].first);
    if (ca.tensors[i].second.dtype() != kFloat32) continue;
    d = std::max(d, max_abs_diff(ca.tensors[i].second, cb.tensors[i].second));
  }
  return d;
}

}  // namespace

// `args` run by 2 processes under mpirun fails with `message` on its error line.
static void expect_mpirun_refused(const std::string& args, const std::string& message) {
  auto r = run_command(mpirun(2) + args);
  EXPECT_NE(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("actlab: error: " + message), std::string::npos) << r.out;
}

TEST(DistCli, MpirunOfABuildWithoutMpiIsRefused) {
  if (dist::built_with_mpi()) GTEST_SKIP() << "this build has MPI";
  if (run_command("command -v mpirun").code != 0) GTEST_SKIP() << "no mpirun on PATH";
  TempDir dir;
  expect_mpirun_refused("train --model mlp --act ReLU --max-steps 1 --data " + (dir / "none"),
                        "this actlab was built without MPI (ACTLAB_MPI=OFF) but was started as one of 2 processes");
}

// Another command under mpirun would run N times over and write the same files: refused, with or without MPI.
TEST(DistCli, OnlyTrainRunsUnderMpirun) {
  if (std::string(ACTLAB_MPIEXEC).empty() && run_command("command -v mpirun").code != 0)
    GTEST_SKIP() << "no mpirun on PATH";
  expect_mpirun_refused("list", "only 'actlab train' runs on several processes; this command was started as one of 2 "
                                "(mpirun)");
}

// The test: 2 ranks with batch B/2 end where 1 rank with batch B ends, within float rounding; and the test
// would see it if they did not (the parameters move much more than the tolerance, and a run with batch B/2 alone
// ends far away).
TEST(DistMpi, TwoRanksWithHalfTheBatchMatchOneRank) {
  if (!dist::built_with_mpi()) GTEST_SKIP() << "built without MPI";
  TempDir dir;
  actlab::testing::write_textures(dir / "data", 256, 64);
  const std::string common = "train --model mlp --depth 3 --width 32 --act Tanh --epochs 3 --seed 4 "
                             "--lr 0.1 --threads 1 --data " + (dir / "data");
  auto one = run_cli(common + " --max-steps 20 --batch-size 32 --save " + (dir / "one.ckpt"));
  ASSERT_EQ(one.code, 0) << one.out;
  auto two = run_command(mpirun(2) + common + " --max-steps 20 --batch-size 16 --bucket-mb 0.01 --save " + (dir / "two.ckpt") +
                         " --metrics-json " + (dir / "two.json"));
  ASSERT_EQ(two.code, 0) << two.out;
  auto half = run_cli(common + " --max-steps 20 --batch-size 16 --save " + (dir / "half.ckpt"));
  ASSERT_EQ(half.code, 0) << half.out;
  auto init = run_cli(common + " --batch-size 32 --max-steps 0 --save " + (dir / "init.ckpt"));
  ASSERT_EQ(init.code, 0) << init.out;

  const double diff = max_param_diff(dir / "one.ckpt", dir / "two.ckpt");
  const double moved = max_param_diff(dir / "one.ckpt", dir / "init.ckpt");
  const double other = max_param_diff(dir / "one.ckpt", dir / "half.ckpt");
  std::printf("max |one rank - two ranks| = %.3g; parameters moved up to %.3g; batch 16 alone differs by %.3g\n", diff,
              moved, other);
  EXPECT_LT(diff, 1e-5);
  EXPECT_GT(moved, 1000 * 1e-5);
  EXPECT_GT(other, 1000 * 1e-5);

  nlohmann::json j = read_json(dir / "two.json");
  EXPECT_EQ(j["world_size"], 2);
  EXPECT_EQ(j["steps"], 20);
  EXPECT_EQ(j["config"]["global_batch_size"], 32);
  ASSERT_EQ(j["rank_state_hashes"].size(), 2u);
  EXPECT_EQ(j["rank_state_hashes"][0], j["rank_state_hashes"][1]);  // the ranks agree bit for bit
  // Only rank 0 printed: one line per epoch.
  EXPECT_EQ(std::count(two.out.begin(), two.out.end(), '\n'), 3) << two.out;
}

// With BatchNorm: --sync-bn makes 2 x B/2 match 1 x B (statistics over the global batch, running statistics
// included); without it each rank normalizes with its own half, and the result differs.
TEST(DistMpi, SyncBatchNormMatchesOneRankAndPerRankStatisticsDoNot) {
  if (!dist::built_with_mpi()) GTEST_SKIP() << "built without MPI";
  TempDir dir;
  actlab::testing::write_textures(dir / "data", 128, 32);
  const std::string common = "train --model seed-cnn --act ReLU --max-steps 8 --seed 2 --threads 1 --data " +
                             (dir / "data");
  ASSERT_EQ(run_cli(common + " --batch-size 32 --save " + (dir / "one.ckpt")).code, 0);
  auto sync = run_command(mpirun(2) + common + " --batch-size 16 --sync-bn --save " + (dir / "sync.ckpt") +
                          " --metrics-json " + (dir / "sync.json"));
  ASSERT_EQ(sync.code, 0) << sync.out;
  auto local = run_command(mpirun(2) + common + " --batch-size 16 --save " + (dir / "local.ckpt"));
  ASSERT_EQ(local.code, 0) << local.out;
  const double d_sync = max_param_diff(dir / "one.ckpt", dir / "sync.ckpt");
  const double d_local = max_param_diff(dir / "one.ckpt", dir / "local.ckpt");
  std::printf("seed-cnn: max |one rank - two ranks| with --sync-bn %.3g, without %.3g\n", d_sync, d_local);
  EXPECT_LT(d_sync, 1e-4);
  EXPECT_GT(d_local, 10 * d_sync + 1e-4);
  nlohmann::json j = read_json(dir / "sync.json");
  EXPECT_EQ(j["rank_state_hashes"][0], j["rank_state_hashes"][1]);
}

// Logs and checkpoints come from rank 0 alone, and resuming under mpirun continues to the same bits.
TEST(DistMpi, CheckpointsAndResumeUnderMpirun) {
  if (!dist::built_with_mpi()) GTEST_SKIP() << "built without MPI";
  TempDir dir;
  actlab::testing::write_textures(dir / "data", 128, 32);
  const std::string common = "train --model cnn --act ReLU --epochs 2 --batch-size 16 --seed 3 --data " +
                             (dir / "data");
  auto full = run_command(mpirun(2) + common + " --max-steps 8 --save " + (dir / "full.ckpt") +
                          " --save-every 8 --logdir " + (dir / "runs"));
  ASSERT_EQ(full.code, 0) << full.out;
  auto part = run_command(mpirun(2) + common + " --max-steps 5 --save " + (dir / "part.ckpt") + " --save-every 5");
  ASSERT_EQ(part.code, 0) << part.out;
  auto resumed = run_command(mpirun(2) + common + " --max-steps 8 --resume " + (dir / "part.ckpt") + " --save " +
                             (dir / "part.ckpt") + " --save-every 8");
  ASSERT_EQ(resumed.code, 0) << resumed.out;
  EXPECT_EQ(max_param_diff(dir / "full.ckpt", dir / "part.ckpt"), 0.0);
  int event_files = 0;
  for (auto& f : std::filesystem::directory_iterator(dir / "runs")) event_files += f.is_regular_file();
  EXPECT_EQ(event_files, 1);  // one writer: rank 0
  // A checkpoint of 2 ranks does not resume in 1 (the data order would differ).
  auto one = run_cli(common + " --max-steps 8 --resume " + (dir / "part.ckpt"));
  EXPECT_EQ(one.code, 1);
  EXPECT_NE(one.out.find("it was saved with world_size 2, this run has 1"), std::string::npos) << one.out;
}

// An error on the ranks ends the whole run with the message, instead of leaving a rank waiting.
TEST(DistMpi, AnErrorEndsEveryRank) {
  if (!dist::built_with_mpi()) GTEST_SKIP() << "built without MPI";
  TempDir dir;
  auto r = run_command(mpirun(2) + "train --model mlp --act ReLU --max-steps 1 --data " + (dir / "none"));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.code, 124) << "timed out: " << r.out;
  EXPECT_NE(r.out.find("actlab: error: "), std::string::npos) << r.out;
}
