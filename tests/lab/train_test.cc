#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "actlab/actlab.h"
#include "actlab/lab/train.h"
#include "cli/cli_test_util.h"
#include "lab/synthetic_data.h"
#include "tensorboard/event_file_test_util.h"
#include "actlab/lab/probe.h"
#include <set>

using namespace actlab;
using actlab::testing::run_cli;
using actlab::testing::TempDir;

TEST(LabTrain, SeedCnnLearnsGeneratedTextures) {
  TempDir dir;
  actlab::testing::write_textures(dir.path.string(), 2048, 512);
  lab::TrainConfig c;
  c.model = "seed-cnn";
  c.act = "ReLU";
  c.epochs = 3;
  c.lr = 0.05;
  c.seed = 3;
  manual_seed(c.seed);
  auto model = lab::build_model(c);
  lab::Split tr = lab::load_split(dir.path.string(), true), te = lab::load_split(dir.path.string(), false);
  EXPECT_EQ(tr.images.sizes(), (Shape{2048, 1, 28, 28}));
  auto [loss0, acc0] = lab::evaluate(*model, te);
  lab::TrainResult r = lab::train(*model, tr, te, c);
  EXPECT_EQ(r.epochs, 3);
  EXPECT_EQ(r.steps, 3 * 32);
  EXPECT_LT(acc0, 0.5);               // chance is 0.25
  EXPECT_GT(r.test_accuracy, 0.95);   // the textures are easy once learned
  EXPECT_LT(r.history.back().train_loss, r.history.front().train_loss);
  EXPECT_GT(r.train_images_per_second, 0);
}

TEST(LabTrain, ReproducibleForAFixedSeed) {
  TempDir dir;
  actlab::testing::write_textures(dir.path.string(), 512, 128);
  auto run = [&] {
    lab::TrainConfig c;
    c.model = "mlp";
    c.depth = 3;
    c.width = 32;
    c.batchnorm = true;
    c.act = "Tanh";
    c.seed = 11;
    c.max_steps = 12;
    manual_seed(c.seed);
    auto model = lab::build_model(c);
    lab::train(*model, lab::load_split(dir.path.string(), true), lab::load_split(dir.path.string(), false), c);
    return model->parameters();
  };
  auto a = run(), b = run();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(a[i].equal(b[i])) << "parameter " << i;
}

TEST(LabTrain, ModelsPrintLikePyTorch) {
  lab::TrainConfig c;
  auto m = lab::build_model(c);
  EXPECT_EQ(m->to_string(),
            "Sequential(\n"
            "  (0): Conv2d(1, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))\n"
            "  (1): BatchNorm2d(16, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)\n"
            "  (2): ReLU()\n"
            "  (3): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)\n"
            "  (4): Conv2d(16, 32, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))\n"
            "  (5): ReLU()\n"
            "  (6): AdaptiveAvgPool2d(output_size=1)\n"
            "  (7): Flatten(start_dim=1, end_dim=-1)\n"
            "  (8): Linear(in_features=32, out_features=10, bias=True)\n"
            ")");
  c.model = "nope";
  EXPECT_THROW(lab::build_model(c), ValueError);
}

TEST(CliTrain, MetricsJsonAndErrors) {
  TempDir dir;
  actlab::testing::write_textures(dir.path.string(), 256, 64);
  auto r = run_cli("train --model seed-cnn --act 'LeakyReLU(0.1)' --epochs 2 --batch-size 32 --threads 1 --data " +
                   dir.path.string() + " --metrics-json " + dir / "m.json" + " --save " + dir / "model.ckpt");
  ASSERT_EQ(r.code, 0) << r.out;
  std::ifstream f(dir / "m.json");
  nlohmann::json m = nlohmann::json::parse(f);
  for (const char* k : {"test_accuracy", "train_loss", "train_images_per_second", "train_seconds", "epochs", "steps"})
    EXPECT_TRUE(m.contains(k)) << k;
  EXPECT_EQ(m["epochs"], 2);
  EXPECT_EQ(m["steps"], 16);
  EXPECT_GE(m["test_accuracy"].get<double>(), 0.0);
  EXPECT_LE(m["test_accuracy"].get<double>(), 1.0);
  EXPECT_TRUE(std::filesystem::exists(dir / "model.ckpt"));
  // One line per epoch, printed when the epoch is evaluated (no terminal here), with the JSON's numbers.
  for (int e = 0; e < 2; ++e) {
    char acc[32];
    std::snprintf(acc, sizeof acc, "acc %.4f |", m["history"][e]["train_accuracy"].get<double>());
    const std::string head = "epoch " + std::to_string(e + 1) + ": train loss ";
    const size_t at = r.out.find(head);
    ASSERT_NE(at, std::string::npos) << r.out;
    EXPECT_NE(r.out.find(acc, at), std::string::npos) << r.out;
  }

  auto bad = run_cli("train --model resnet --act ReLU --data " + dir.path.string());
  EXPECT_NE(bad.code, 0);
  EXPECT_NE(bad.out.find("unknown model 'resnet'; valid models: seed-cnn, mlp, cnn"), std::string::npos) << bad.out;
  auto missing = run_cli("train --model seed-cnn --act ReLU --data " + dir / "nowhere");
  EXPECT_NE(missing.code, 0);
  EXPECT_NE(missing.out.find("dataset-fashion-mnist"), std::string::npos) << missing.out;
  EXPECT_EQ(std::count(missing.out.begin(), missing.out.end(), '\n'), 1) << missing.out;
  auto badact = run_cli("train --model seed-cnn --act Relu --data " + dir.path.string());
  EXPECT_NE(badact.out.find("did you mean 'ReLU'"), std::string::npos) << badact.out;
}

TEST(CliVisualize, WritesTheGridAndTheEventFile) {
  TempDir dir;
  actlab::testing::write_textures(dir.path.string(), 16, 16);
  auto r = run_cli("visualize --data " + dir.path.string() + " --logdir " + dir / "runs" + " --out " + dir / "grid.png" +
                   " --count 10");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(std::filesystem::exists(dir / "grid.png"));
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir / "runs"))
    files += e.path().filename().string().rfind("events.out.tfevents.", 0) == 0;
  EXPECT_EQ(files, 1);
  auto rnd = run_cli("visualize --input random --logdir " + dir / "runs2" + " --out " + dir / "r.png");
  EXPECT_EQ(rnd.code, 0) << rnd.out;
  auto bad = run_cli("visualize --input " + dir / "nothere.png" + " --logdir " + dir / "runs3" + " --out " + dir / "x.png");
  EXPECT_NE(bad.code, 0);
  EXPECT_FALSE(std::filesystem::exists(dir / "x.png"));
}

TEST(LabTrain, LogdirHasScalarsHistogramsAndImages) {
  TempDir dir;
  actlab::testing::write_textures(dir.path.string(), 256, 64);
  lab::TrainConfig c;
  c.act = "LeakyReLU(0.1)";
  c.log_every = 2;
  c.logdir = dir / "runs";
  manual_seed(1);
  auto model = lab::build_model(c);
  lab::train(*model, lab::load_split(dir.path.string(), true), lab::load_split(dir.path.string(), false), c);
  std::set<std::string> tags;
  int images = 0, histograms = 0;
  for (const auto& e : actlab_test::tb_util::decode_dir(dir.path / "runs"))
    for (const auto& v : e.summary().value()) {
      tags.insert(v.tag());
      images += v.has_image();
      histograms += v.has_histo();
    }
  for (const char* t : {"loss/train", "accuracy/train", "lr", "loss/test", "accuracy/test", "input_batch",
                        "first_conv_maps", "activations/2.LeakyReLU", "active_fraction/2.LeakyReLU",
                        "dead_fraction/5.LeakyReLU", "gradients/0.weight", "gradients/8.bias"})
    EXPECT_TRUE(tags.count(t)) << t;
  EXPECT_GE(images, 2);
  EXPECT_GE(histograms, 3);
}

TEST(LabProbe, DeadAndActiveFractionsOnAKnownLayer) {
  // A Linear layer whose outputs are all negative: 100% dead under ReLU, 0% under LeakyReLU (active means > 0
  // for both, so LeakyReLU's negative outputs are inactive but its units still pass gradient).
  for (const char* spec : {"ReLU", "LeakyReLU(0.1)"}) {
    auto lin = std::make_shared<nn::Linear>(4, 3);
    {
      NoGradGuard ng;
      lin->parameters()[0].fill_(0.0);
      lin->parameters()[1].fill_(-1.0);
    }
    nn::Sequential model;
    model.push_back(lin);
    model.push_back(nn::make_activation(spec));
    auto probes = lab::probe_activations(model, randn({8, 4}));
    ASSERT_EQ(probes.size(), 1u);
    EXPECT_EQ(probes[0].active_fraction, 0.0);
    EXPECT_EQ(probes[0].dead_fraction, spec[0] == 'R' ? 1.0 : 0.0);
    EXPECT_EQ(probes[0].name, std::string("1.") + (spec[0] == 'R' ? "ReLU" : "LeakyReLU"));
  }
  // Half the units always on, half always off.
  auto lin = std::make_shared<nn::Linear>(2, 4);
  {
    NoGradGuard ng;
    lin->parameters()[0].fill_(0.0);
    lin->parameters()[1].copy_(tensor({1, -1, 1, -1}));
  }
  nn::Sequential model;
  model.push_back(lin);
  model.push_back(nn::make_activation("ReLU"));
  auto probes = lab::probe_activations(model, randn({5, 2}));
  EXPECT_DOUBLE_EQ(probes[0].active_fraction, 0.5);
  EXPECT_DOUBLE_EQ(probes[0].dead_fraction, 0.5);
}
