#include <gtest/gtest.h>

#include <cmath>

#include "actlab/actlab.h"
#include "actlab/nn/init.h"
#include "nn/train_golden.h"

using namespace actlab;
namespace init = actlab::nn::init;

TEST(Init, GainsMatchPyTorch) {
  auto g = actlab::testing::load_train_golden("init");
  ASSERT_GE(g["gains"].size(), 10u);
  for (auto& c : g["gains"]) {
    std::optional<double> param;
    if (!c["param"].is_null()) param = c["param"].get<double>();
    std::string nl = c["nonlinearity"];
    EXPECT_DOUBLE_EQ(init::calculate_gain(nl, param), c["gain"].get<double>()) << nl;
  }
  EXPECT_DOUBLE_EQ(init::calculate_gain("tanh"), 5.0 / 3.0);
  EXPECT_DOUBLE_EQ(init::calculate_gain("leaky_relu", 0.2), std::sqrt(2.0 / 1.04));
}

TEST(Init, FansMatchPyTorch) {
  auto g = actlab::testing::load_train_golden("init");
  for (auto& c : g["fans"]) {
    Tensor t = empty(c["shape"].get<Shape>());
    auto [fi, fo] = init::calculate_fan_in_and_fan_out(t);
    EXPECT_EQ(fi, c["fan_in"].get<int64_t>());
    EXPECT_EQ(fo, c["fan_out"].get<int64_t>());
  }
}

TEST(Init, Errors) {
  try {
    init::calculate_gain("swish");
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("Unsupported nonlinearity swish"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("leaky_relu"), std::string::npos);
  }
  Tensor v = empty({5});
  try {
    init::kaiming_normal_(v);
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_STREQ(e.what(), "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions");
  }
  Tensor w = empty({4, 3});
  try {
    init::kaiming_uniform_(w, 0, "fan_avg");
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_STREQ(e.what(), "Mode fan_avg not supported, please use one of fan_in, fan_out");
  }
  EXPECT_THROW(init::kaiming_uniform_(w, 0, "fan_in", "gelu"), ValueError);
  EXPECT_THROW(init::xavier_uniform_(v), ValueError);
  EXPECT_THROW(init::normal_(w, 0, -1), ValueError);
}

namespace {
void expect_stats(const Tensor& t, double mean, double std, double tol) {
  double m = t.mean().item(), s = t.std().item();
  EXPECT_NEAR(m, mean, tol * std);
  EXPECT_NEAR(s, std, tol * std);
}
}  // namespace

TEST(Init, KaimingStatistics) {
  Generator gen(42);
  Tensor w = empty({256, 128, 3});  // fan_in 384, fan_out 768
  init::kaiming_normal_(w, 0, "fan_in", "relu", &gen);
  expect_stats(w, 0.0, std::sqrt(2.0) / std::sqrt(384.0), 0.02);
  init::kaiming_normal_(w, 0, "fan_out", "relu", &gen);
  expect_stats(w, 0.0, std::sqrt(2.0) / std::sqrt(768.0), 0.02);

  init::kaiming_uniform_(w, std::sqrt(5.0), "fan_in", "leaky_relu", &gen);  // nn.Linear's default
  double bound = std::sqrt(2.0 / 6.0) * std::sqrt(3.0 / 384.0);
  EXPECT_LE(w.max().item(), bound);
  EXPECT_GE(w.min().item(), -bound);
  EXPECT_GT(w.max().item(), 0.99 * bound);
  EXPECT_LT(w.min().item(), -0.99 * bound);
  expect_stats(w, 0.0, bound / std::sqrt(3.0), 0.02);
}

TEST(Init, XavierUniformNormalConstant) {
  Generator gen(5);
  Tensor w = empty({300, 500});
  init::xavier_uniform_(w, 2.0, &gen);
  double a = 2.0 * std::sqrt(6.0 / 800.0);
  EXPECT_LE(w.max().item(), a);
  EXPECT_GE(w.min().item(), -a);
  expect_stats(w, 0.0, a / std::sqrt(3.0), 0.02);
  init::xavier_normal_(w, 1.0, &gen);
  expect_stats(w, 0.0, std::sqrt(2.0 / 800.0), 0.02);
  init::uniform_(w, 2.0, 5.0, &gen);
  EXPECT_GE(w.min().item(), 2.0);
  EXPECT_LT(w.max().item(), 5.0);
  expect_stats(w, 3.5, 3.0 / std::sqrt(12.0), 0.02);
  init::normal_(w, -1.0, 0.5, &gen);
  expect_stats(w, -1.0, 0.5, 0.02);
  init::constant_(w, 0.25);
  EXPECT_EQ(w.min().item(), 0.25);
  EXPECT_EQ(w.max().item(), 0.25);
  init::zeros_(w);
  EXPECT_EQ(abs(w).max().item(), 0.0);
  init::ones_(w);
  EXPECT_EQ(w.min().item(), 1.0);
}

TEST(Init, InPlaceOnParametersWithoutHistoryAndSeeded) {
  Tensor p = empty({8, 4});
  p.requires_grad_(true);
  Generator g1(9), g2(9);
  init::kaiming_uniform_(p, 0, "fan_in", "relu", &g1);
  EXPECT_TRUE(p.is_leaf());
  EXPECT_TRUE(p.requires_grad());
  EXPECT_EQ(p.grad_fn(), nullptr);
  Tensor q = empty({8, 4});
  init::kaiming_uniform_(q, 0, "fan_in", "relu", &g2);
  EXPECT_TRUE(p.detach().equal(q));
  Tensor d = empty({10, 10}, {Dtype::Float64});
  init::normal_(d, 0, 1, &g1);
  EXPECT_EQ(d.dtype(), Dtype::Float64);
  EXPECT_GT(d.std().item(), 0.5);
}
