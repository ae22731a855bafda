// Training checkpoints: a run killed midway and resumed ends with exactly the weights of an uninterrupted run.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "actlab/actlab.h"
#include "cli/cli_test_util.h"
#include "lab/synthetic_data.h"

using namespace actlab;
using actlab::testing::run_cli;
using actlab::testing::TempDir;

namespace {

// `cnn` has Dropout (the default generator), BatchNorm (running buffers) and SGD momentum (optimizer state):
// everything a resume must restore.
std::string train_args(const std::string& data) {
  return "train --model cnn --act ReLU --epochs 3 --batch-size 16 --max-steps 60 --threads 1 --seed 3 --data " + data;
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream f(path);
  return nlohmann::json::parse(f);
}

}  // namespace

TEST(LabResume, KilledRunResumesToTheSameWeights) {
  TempDir dir;
  actlab::testing::write_textures(dir / "data", 512, 64);
  std::string data = dir / "data";
  auto full = run_cli(train_args(data) + " --save " + (dir / "full.ckpt") + " --save-every 60 --metrics-json " +
                      (dir / "full.json"));
  ASSERT_EQ(full.code, 0) << full.out;

  // Start the same run with a checkpoint every 3 steps and kill it (SIGKILL) once the first one is there.
  std::string part = dir / "part.ckpt";
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::string cmd = std::string("exec ") + ACTLAB_CLI_PATH + " " + train_args(data) + " --save " + part +
                      " --save-every 3 >/dev/null 2>&1";
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!std::filesystem::exists(part) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(std::filesystem::exists(part));
  int64_t saved_steps = std::stoll(nn::load(part).metadata.at("steps"));
  EXPECT_LT(saved_steps, 60) << "the run finished before it was killed";
  EXPECT_EQ(saved_steps % 3, 0);

  auto resumed = run_cli(train_args(data) + " --resume " + part + " --save " + part + " --save-every 3 --metrics-json " +
                         (dir / "resumed.json"));
  ASSERT_EQ(resumed.code, 0) << resumed.out;

  nn::Checkpoint a = nn::load(dir / "full.ckpt"), b = nn::load(part);
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  int compared = 0;
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    ASSERT_EQ(a.tensors[i].first, b.tensors[i].first);
    if (a.tensors[i].first.rfind("model.", 0) != 0 && a.tensors[i].first.rfind("optim.", 0) != 0) continue;
    EXPECT_TRUE(a.tensors[i].second.equal(b.tensors[i].second)) << a.tensors[i].first;  // bit for bit
    ++compared;
  }
  EXPECT_GT(compared, 20);
  EXPECT_TRUE(a.find("run.step_losses").equal(b.find("run.step_losses")));
  nlohmann::json ja = read_json(dir / "full.json"), jb = read_json(dir / "resumed.json");
  EXPECT_EQ(ja["steps"], 60);
  EXPECT_EQ(jb["steps"], 60);
  EXPECT_EQ(ja["test_accuracy"], jb["test_accuracy"]);
  EXPECT_EQ(ja["train_loss"], jb["train_loss"]);

  // The training checkpoint also loads as a model, and resuming a finished run changes nothing.
  manual_seed(0);
  auto model = lab::build_model({.model = "cnn", .act = "ReLU"});
  nn::load_module(*model, part);
  EXPECT_TRUE(model->state_dict()[0].second.equal(b.find("model." + model->state_dict()[0].first)));
  auto again = run_cli(train_args(data) + " --resume " + part + " --metrics-json " + (dir / "again.json"));
  ASSERT_EQ(again.code, 0) << again.out;
  nlohmann::json jc = read_json(dir / "again.json");
  EXPECT_EQ(jc["steps"], 60);
  EXPECT_EQ(jc["epochs"], ja["epochs"]);
  EXPECT_EQ(jc["test_accuracy"], ja["test_accuracy"]);
}

TEST(LabResume, WrongCheckpointsAreClearErrors) {
  TempDir dir;
  actlab::testing::write_textures(dir / "data", 128, 32);
  std::string data = dir / "data";
  std::string base = "train --model seed-cnn --act ReLU --max-steps 4 --threads 1 --data " + data;
  ASSERT_EQ(run_cli(base + " --save " + (dir / "model.ckpt")).code, 0);
  ASSERT_EQ(run_cli(base + " --save " + (dir / "train.ckpt") + " --save-every 2").code, 0);
  struct Case {
    std::string args, message;
  };
  for (const Case& c : std::vector<Case>{
           {base + " --resume " + (dir / "model.ckpt"), "is not a training checkpoint"},
           {"train --model seed-cnn --act Tanh --max-steps 4 --threads 1 --data " + data + " --resume " + (dir / "train.ckpt"),
            "it was saved with act ReLU, this run has Tanh"},
           {base + " --batch-size 8 --resume " + (dir / "train.ckpt"), "it was saved with batch_size 64, this run has 8"},
           {base + " --resume " + (dir / "missing.ckpt"), "missing.ckpt"},
           {base + " --save-every 2", "--save-every needs --save FILE"}}) {
    auto r = run_cli(c.args);
    EXPECT_EQ(r.code, 1) << c.args << ": " << r.out;
    EXPECT_NE(r.out.find(c.message), std::string::npos) << c.args << ": " << r.out;
  }
}

TEST(LabDeterminism, OneAndTwoThreadsTrainToTheSameBits) {
  TempDir dir;
  actlab::testing::write_textures(dir / "data", 256, 64);
  for (const char* model : {"seed-cnn --act GELU", "cnn --act ReLU", "mlp --depth 3 --act RReLU"}) {
    std::vector<nn::Checkpoint> runs;
    for (int threads : {1, 2}) {
      std::string out = dir / ("t" + std::to_string(threads) + ".ckpt");
      auto r = run_cli(std::string("train --model ") + model + " --max-steps 12 --batch-size 32 --seed 5 --threads " +
                       std::to_string(threads) + " --data " + (dir / "data") + " --save " + out);
      ASSERT_EQ(r.code, 0) << r.out;
      runs.push_back(nn::load(out));
    }
    ASSERT_EQ(runs[0].tensors.size(), runs[1].tensors.size());
    for (size_t i = 0; i < runs[0].tensors.size(); ++i)
      EXPECT_TRUE(runs[0].tensors[i].second.equal(runs[1].tensors[i].second)) << model << ": " << runs[0].tensors[i].first;
  }
}
