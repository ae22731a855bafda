// AnomalyGuard names the first module that turns finite values into NaN or Inf, forward and backward.
#include <gtest/gtest.h>

#include <limits>

#include "actlab/actlab.h"
#include "actlab/nn/anomaly.h"
#include "cli/cli_test_util.h"
#include "lab/synthetic_data.h"

using namespace actlab;

namespace {

// sqrt(|x|): finite forward at 0, but its backward there is inf * sign(0) = nan inside autograd.
class SqrtAbs : public nn::Module {
 public:
  Tensor forward(const Tensor& x) override { return x.abs().sqrt(); }
  std::string type_name() const override { return "SqrtAbs"; }
};

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

nn::Sequential small_mlp() {
  nn::Sequential m;
  m.push_back(std::make_shared<nn::Linear>(3, 4));
  m.push_back(nn::make_activation("Tanh"));
  m.push_back(std::make_shared<nn::Linear>(4, 2));
  return m;
}

// Linear(2, 3) with zero weights and bias (so its output is exactly 0), then `next`.
nn::Sequential zero_linear_then(std::shared_ptr<nn::Module> next) {
  auto lin = std::make_shared<nn::Linear>(2, 3);
  {
    NoGradGuard ng;
    lin->parameters()[0].fill_(0.0);
    lin->parameters()[1].fill_(0.0);
  }
  nn::Sequential m;
  m.push_back(lin);
  m.push_back(std::move(next));
  return m;
}

}  // namespace

TEST(NnAnomaly, NonFiniteKind) {
  EXPECT_EQ(nn::non_finite_kind(tensor({1.0, 2.0})), "");
  EXPECT_EQ(nn::non_finite_kind(tensor({1.0, std::numeric_limits<double>::infinity()})), "inf");
  EXPECT_EQ(nn::non_finite_kind(tensor({-std::numeric_limits<double>::infinity(), std::nan("")})), "nan");
  EXPECT_EQ(nn::non_finite_kind(Tensor()), "");
}

TEST(NnAnomaly, ForwardNamesTheFirstModuleThatProducesInf) {
  manual_seed(0);
  nn::Sequential m = small_mlp();
  {
    NoGradGuard ng;
    m[2].parameters()[0].narrow(0, 0, 1).narrow(1, 0, 1).fill_(std::numeric_limits<double>::infinity());
  }
  Tensor x = randn({5, 3});
  {
    nn::AnomalyGuard guard(m);
    EXPECT_TRUE(autograd::anomaly_mode_enabled());
    std::string msg = message_of([&] { m(x); });
    EXPECT_NE(msg.find("anomaly detected: the forward of module '2' (Linear) produced inf in its output from a finite input"),
              std::string::npos)
        << msg;
    Tensor bad = x.clone();
    {
      NoGradGuard ng;
      bad.narrow(0, 1, 1).fill_(std::nan(""));
    }
    msg = message_of([&] { m(bad); });
    EXPECT_NE(msg.find("the input of module '0' (Linear) contains nan"), std::string::npos) << msg;
  }
  // The guard is gone: hooks removed, autograd's switch restored.
  EXPECT_FALSE(autograd::anomaly_mode_enabled());
  EXPECT_EQ(message_of([&] { m(x); }), "(no error)");
}

TEST(NnAnomaly, BackwardNaNInsideAModuleIsReportedWithTheModule) {
  nn::Sequential m = zero_linear_then(std::make_shared<SqrtAbs>());
  nn::AnomalyGuard guard(m);
  Tensor y = m(randn({4, 2}));  // all zeros: finite
  std::string msg = message_of([&] { y.sum().backward(); });
  EXPECT_NE(msg.find("returned nan values in its 0th output"), std::string::npos) << msg;
  EXPECT_EQ(guard.backward_context(), "the backward of module '1' (SqrtAbs)");
}

TEST(NnAnomaly, BackwardInfProducedByAModuleIsNamed) {
  // d sqrt(x) / dx at 0 is inf: no nan for autograd's check, but the module's input gradient is not finite.
  class Sqrt : public nn::Module {
   public:
    Tensor forward(const Tensor& x) override { return x.sqrt(); }
    std::string type_name() const override { return "Sqrt"; }
  };
  nn::Sequential m = zero_linear_then(std::make_shared<Sqrt>());
  nn::AnomalyGuard guard(m);
  Tensor y = m(randn({4, 2}));
  std::string msg = message_of([&] { y.sum().backward(); });
  EXPECT_NE(msg.find("anomaly detected: the backward of module '1' (Sqrt) produced inf in its input gradient"),
            std::string::npos)
      << msg;
}

TEST(CliTrain, DetectAnomalyStopsADivergingRunAtTheModule) {
  actlab::testing::TempDir dir;
  actlab::testing::write_textures(dir.path.string(), 256, 64);
  auto r = actlab::testing::run_cli("train --model mlp --depth 2 --width 16 --act ReLU --lr 1e30 --max-steps 20 --threads 1 "
                                    "--detect-anomaly --data " + dir.path.string());
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("actlab: error: anomaly detected: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("module '"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("step "), std::string::npos) << r.out;
  // Without the flag the same run stops with the divergence message.
  auto plain = actlab::testing::run_cli("train --model mlp --depth 2 --width 16 --act ReLU --lr 1e30 --max-steps 20 --threads 1 --data " +
                                        dir.path.string());
  EXPECT_EQ(plain.code, 1) << plain.out;
  EXPECT_NE(plain.out.find("training diverged"), std::string::npos) << plain.out;
}
