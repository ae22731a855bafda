#include <gtest/gtest.h>

#include "actlab/actlab.h"
#include "actlab/nn/functional.h"
#include "actlab/nn/loss.h"
#include "nn/train_golden.h"
#include "test_util.h"

using namespace actlab;
namespace F = actlab::nn::functional;
using actlab::testing::expect_gradcheck;
using actlab::testing::expect_near_json;
using actlab::testing::leaf64;
using actlab::testing::tensor_from_json;

namespace {

Tensor run_loss(const std::string& fn, const Tensor& x, const Tensor& t, const nlohmann::json& c) {
  std::string red = c.value("reduction", "mean");
  Tensor w = c.contains("weight") ? tensor_from_json(c["weight"]) : Tensor();
  if (fn == "cross_entropy") {
    nn::CrossEntropyLossOptions o;
    o.weight = w;
    o.reduction = red;
    o.label_smoothing = c.value("label_smoothing", 0.0);
    o.ignore_index = c.value("ignore_index", int64_t{-100});
    return F::cross_entropy(x, t, o);
  }
  if (fn == "nll_loss") return F::nll_loss(x, t, {w, c.value("ignore_index", int64_t{-100}), red});
  if (fn == "binary_cross_entropy") return F::binary_cross_entropy(x, t, {w, red});
  if (fn == "binary_cross_entropy_with_logits") {
    Tensor pw = c.contains("pos_weight") ? tensor_from_json(c["pos_weight"]) : Tensor();
    return F::binary_cross_entropy_with_logits(x, t, {w, red, pw});
  }
  if (fn == "mse_loss") return F::mse_loss(x, t, {red});
  throw std::runtime_error("unknown loss " + fn);
}

}  // namespace

TEST(Loss, GoldenValuesAndGradients) {
  auto g = actlab::testing::load_train_golden("losses");
  ASSERT_GE(g["cases"].size(), 45u);
  for (auto& c : g["cases"]) {
    std::string name = c["name"];
    Tensor x = tensor_from_json(c["input"]);
    x.requires_grad_(true);
    Tensor t = tensor_from_json(c["target"]);
    Tensor y = run_loss(c["fn"], x, t, c);
    expect_near_json(y, c["out"], 2e-6, 1e-6, name + " value");
    y.backward(tensor_from_json(c["gy"]));
    expect_near_json(x.grad(), c["gx"], 2e-5, 1e-7, name + " grad");
  }
}

TEST(Loss, GradcheckFloat64) {
  Generator gen(3);
  Tensor t = from_data({0, 2, 1, 3, 2}, {5}, {Dtype::Int64});
  Tensor t_ign = from_data({0, -100, 1, 3, 2}, {5}, {Dtype::Int64});
  Tensor w = from_data({0.5, 1.0, 2.0, 1.5}, {4}, {Dtype::Float64});
  for (std::string red : {"mean", "sum", "none"}) {
    expect_gradcheck([&](const std::vector<Tensor>& in) { return F::cross_entropy(in[0], t, {Tensor(), -100, red, 0.1}); },
                     {leaf64({5, 4}, 1)});
    expect_gradcheck([&](const std::vector<Tensor>& in) { return F::cross_entropy(in[0], t_ign, {w, -100, red, 0.2}); },
                     {leaf64({5, 4}, 2)});
    expect_gradcheck([&](const std::vector<Tensor>& in) { return F::nll_loss(in[0], t_ign, {w, -100, red}); },
                     {leaf64({5, 4}, 3)});
    Tensor y = rand({3, 4}, {Dtype::Float64}, &gen);
    expect_gradcheck([&](const std::vector<Tensor>& in) {
      return F::binary_cross_entropy(F::sigmoid(in[0]), y, {w, red});
    }, {leaf64({3, 4}, 4)});
    expect_gradcheck([&](const std::vector<Tensor>& in) {
      return F::binary_cross_entropy_with_logits(in[0], y, {Tensor(), red, w * 2.0});
    }, {leaf64({3, 4}, 5, 3.0)});
    expect_gradcheck([&](const std::vector<Tensor>& in) { return F::mse_loss(in[0], in[1], {red}); },
                     {leaf64({3, 4}, 6), leaf64({3, 4}, 7)});
  }
  Tensor probs = rand({5, 4}, {Dtype::Float64}, &gen);
  expect_gradcheck([&](const std::vector<Tensor>& in) { return F::cross_entropy(in[0], probs, {w, -100, "mean", 0.1}); },
                   {leaf64({5, 4}, 8)});
  Tensor t3 = from_data({0, 2, 1, 3, 1, 0}, {2, 3}, {Dtype::Int64});
  expect_gradcheck([&](const std::vector<Tensor>& in) { return F::cross_entropy(in[0], t3, {}); },
                   {leaf64({2, 4, 3}, 9)});
}

TEST(Loss, Errors) {
  Tensor x = randn({3, 5});
  auto expect_msg = [](auto fn, const std::string& msg) {
    try {
      fn();
      ADD_FAILURE() << "no error, expected: " << msg;
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()), msg);
    }
  };
  expect_msg([&] { F::cross_entropy(x, from_data({0, 12, 1}, {3}, {Dtype::Int64})); }, "Target 12 is out of bounds.");
  EXPECT_THROW(F::nll_loss(x, from_data({0, -1, 1}, {3}, {Dtype::Int64})), IndexError);
  expect_msg([&] { F::cross_entropy(x, from_data({0, 1, 1, 2}, {4}, {Dtype::Int64})); },
             "Expected input batch_size (3) to match target batch_size (4).");
  expect_msg([&] { F::cross_entropy(x, from_data({0, 1, 1}, {3}, {Dtype::Int64}), {Tensor(), -100, "avg"}); },
             "avg is not a valid value for reduction");
  expect_msg([&] { nn::CrossEntropyLoss({.label_smoothing = 1.5}); },
             "label_smoothing must be between 0.0 and 1.0. Got: 1.5");
  expect_msg([&] { F::nll_loss(x, zeros({3})); }, "expected scalar type Long but found Float");
  expect_msg([&] { F::binary_cross_entropy(from_vector({1.5f}), from_vector({1.0f})); },
             "all elements of input should be between 0 and 1");
  expect_msg([&] { F::binary_cross_entropy(rand({3, 1}), rand({3})); },
             "Using a target size (torch.Size([3])) that is different to the input size (torch.Size([3, 1])) is "
             "deprecated. Please ensure they have the same size.");
  expect_msg([&] { F::binary_cross_entropy_with_logits(rand({3, 1}), rand({3})); },
             "Target size (torch.Size([3])) must be the same as input size (torch.Size([3, 1]))");
  expect_msg([&] { F::cross_entropy(x, from_data({0, 1, 1}, {3}, {Dtype::Int64}), {ones({4})}); },
             "weight tensor should be defined either for all 5 classes or no classes but got weight tensor of "
             "shape: [4]");
  nn::MSELoss mse;
  EXPECT_THROW(mse(x), ValueError);
}

TEST(Loss, ModulesMatchFunctionsAndPrint) {
  Tensor x = randn({4, 3});
  Tensor t = from_data({0, 2, 1, 2}, {4}, {Dtype::Int64});
  nn::CrossEntropyLoss ce({.reduction = "sum", .label_smoothing = 0.05});
  EXPECT_TRUE(ce(x, t).allclose(F::cross_entropy(x, t, {Tensor(), -100, "sum", 0.05})));
  EXPECT_EQ(ce.to_string(), "CrossEntropyLoss()");
  nn::NLLLoss nll;
  EXPECT_TRUE(nll(x, t).allclose(F::nll_loss(x, t)));
  Tensor p = rand({4, 3}), y = rand({4, 3});
  EXPECT_TRUE(nn::BCELoss()(p, y).allclose(F::binary_cross_entropy(p, y)));
  EXPECT_TRUE(nn::BCEWithLogitsLoss()(x, y).allclose(F::binary_cross_entropy_with_logits(x, y)));
  EXPECT_TRUE(nn::MSELoss()(x, y).allclose(mean((x - y) * (x - y))));
  // All targets ignored: mean is 0/0 = nan, as PyTorch 1.13.
  Tensor ign = full({4}, -100.0, {Dtype::Int64});
  EXPECT_TRUE(std::isnan(F::cross_entropy(x, ign).item()));
  // Stable for large logits.
  Tensor big = from_vector({1000.0f, -1000.0f});
  Tensor l = F::binary_cross_entropy_with_logits(big, from_vector({0.0f, 1.0f}), {.reduction = "none"});
  EXPECT_NEAR(l.to_vector()[0], 1000.0, 1e-3);
  EXPECT_NEAR(l.to_vector()[1], 1000.0, 1e-3);
}
