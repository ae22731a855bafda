#include <gtest/gtest.h>

#include "actlab/actlab.h"
#include "actlab/nn/activation.h"
#include "actlab/nn/sequential.h"
#include "nn/test_modules.h"

using namespace actlab;
using actlab::testing::TinyLinear;
using actlab::testing::WithBuffers;

TEST(Sequential, PrintsLikePyTorch) {
  auto inner = std::make_shared<nn::Sequential>(nn::Sigmoid());
  auto model = nn::Sequential(nn::ReLU(/*inplace=*/true), nn::Tanh(), nn::LeakyReLU(0.2), inner, TinyLinear(3, 2));
  EXPECT_EQ(model.to_string(),
            "Sequential(\n"
            "  (0): ReLU(inplace=True)\n"
            "  (1): Tanh()\n"
            "  (2): LeakyReLU(negative_slope=0.2)\n"
            "  (3): Sequential(\n"
            "    (0): Sigmoid()\n"
            "  )\n"
            "  (4): Linear(in_features=3, out_features=2, bias=True)\n"
            ")");
  EXPECT_EQ(nn::Sequential().to_string(), "Sequential()");
}

TEST(Sequential, IndexingAndErrors) {
  auto model = nn::Sequential(nn::ReLU(), nn::Tanh(), nn::Sigmoid());
  EXPECT_EQ(model.size(), 3);
  EXPECT_EQ(model[0].type_name(), "ReLU");
  EXPECT_EQ(model[-1].type_name(), "Sigmoid");
  EXPECT_EQ(model[-3].type_name(), "ReLU");
  try {
    model[5];
    FAIL() << "no error";
  } catch (const IndexError& e) {
    EXPECT_STREQ(e.what(), "index 5 is out of range");
  }
  try {
    model[-4];
    FAIL() << "no error";
  } catch (const IndexError& e) {
    EXPECT_STREQ(e.what(), "index -4 is out of range");
  }
  std::vector<std::string> names;
  for (auto& [n, m] : model.named_children()) names.push_back(n);
  EXPECT_EQ(names, (std::vector<std::string>{"0", "1", "2"}));
  model.push_back(nn::ReLU6());
  EXPECT_EQ(model.size(), 4);
  EXPECT_EQ(model[3].type_name(), "ReLU6");
  EXPECT_THROW(model.push_back(std::shared_ptr<nn::Module>()), ValueError);
}

TEST(Sequential, FromVectorSharesModules) {
  auto lin = std::make_shared<TinyLinear>(2, 2);
  auto model = nn::Sequential(std::vector<std::shared_ptr<nn::Module>>{lin, std::make_shared<nn::ReLU>()});
  EXPECT_EQ(&model[0], lin.get());
  EXPECT_EQ(model.ptr(-2).get(), lin.get());
}

TEST(Sequential, ForwardChainsAndParameters) {
  auto model = nn::Sequential(TinyLinear(3, 4, 1), nn::ReLU(), TinyLinear(4, 2, 2));
  Tensor x = from_vector({0.5f, -1.0f, 2.0f, 1.5f, 0.25f, -0.75f}, {2, 3});
  auto& l0 = static_cast<TinyLinear&>(model[0]);
  auto& l2 = static_cast<TinyLinear&>(model[2]);
  Tensor expected = matmul(clamp(matmul(x, l0.weight.t()) + l0.bias, 0.0, std::nullopt), l2.weight.t()) + l2.bias;
  Tensor y = model(x);
  EXPECT_TRUE(y.allclose(expected));
  auto named = model.named_parameters();
  ASSERT_EQ(named.size(), 4u);
  EXPECT_EQ(named[0].first, "0.weight");
  EXPECT_EQ(named[1].first, "0.bias");
  EXPECT_EQ(named[2].first, "2.weight");
  EXPECT_EQ(named[3].first, "2.bias");
  EXPECT_TRUE(named[2].second.is_same(l2.weight));
  EXPECT_EQ(model.parameters().size(), 4u);

  sum(model(x)).backward();
  for (auto& p : model.parameters()) EXPECT_TRUE(p.grad().defined());
  model.zero_grad(false);
  for (auto& p : model.parameters()) EXPECT_EQ(sum(abs(p.grad())).item(), 0.0);
  model.zero_grad();
  for (auto& p : model.parameters()) EXPECT_FALSE(p.grad().defined());

  model.eval();
  EXPECT_FALSE(model.is_training());
  EXPECT_FALSE(model[1].is_training());
  model.train();
  EXPECT_TRUE(model[2].is_training());

  auto modules = model.named_modules();
  ASSERT_EQ(modules.size(), 4u);
  EXPECT_EQ(modules[0].first, "");
  EXPECT_EQ(modules[3].first, "2");
  EXPECT_EQ(modules[3].second, &model[2]);
}

TEST(Sequential, StateDictOrderAndRoundTrip) {
  auto model = nn::Sequential(TinyLinear(3, 2, 1), WithBuffers(), std::make_shared<nn::Sequential>(TinyLinear(2, 2, 3)));
  auto sd = model.state_dict();
  std::vector<std::string> keys;
  for (auto& [k, t] : sd) keys.push_back(k);
  // Per module: parameters, then buffers, then children (PyTorch's order).
  EXPECT_EQ(keys, (std::vector<std::string>{"0.weight", "0.bias", "1.scale", "1.running_mean", "1.count",
                                             "2.0.weight", "2.0.bias"}));
  EXPECT_FALSE(sd[0].second.requires_grad());
  EXPECT_TRUE(sd[0].second.shares_storage(static_cast<TinyLinear&>(model[0]).weight));

  auto other = nn::Sequential(TinyLinear(3, 2, 11), WithBuffers(), std::make_shared<nn::Sequential>(TinyLinear(2, 2, 13)));
  EXPECT_FALSE(other.state_dict()[0].second.equal(sd[0].second));
  auto keys_result = other.load_state_dict(sd);
  EXPECT_TRUE(keys_result.missing_keys.empty());
  auto sd2 = other.state_dict();
  for (size_t i = 0; i < sd.size(); ++i) EXPECT_TRUE(sd2[i].second.equal(sd[i].second)) << sd[i].first;
  // Loaded in place: the module's own tensors hold the values and stay leaves that require grad.
  auto& w = static_cast<TinyLinear&>(other[0]).weight;
  EXPECT_TRUE(w.equal(sd[0].second));
  EXPECT_TRUE(w.requires_grad());
  EXPECT_TRUE(w.is_leaf());
  EXPECT_FALSE(w.shares_storage(sd[0].second));
}

TEST(Sequential, LoadStateDictErrors) {
  auto model = nn::Sequential(TinyLinear(3, 4), nn::ReLU(), TinyLinear(4, 2));
  auto sd = model.state_dict();
  nn::StateDict bad;
  for (auto& [k, t] : sd) {
    if (k == "2.bias") continue;
    bad.emplace_back(k, k == "0.weight" ? zeros({5, 3}) : t);
  }
  bad.emplace_back("3.weight", zeros({1}));
  try {
    model.load_state_dict(bad);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "Error(s) in loading state_dict for Sequential:\n\tMissing key(s) in state_dict: \"2.bias\". \n\t"
              "Unexpected key(s) in state_dict: \"3.weight\". \n\tsize mismatch for 0.weight: copying a param with "
              "shape torch.Size([5, 3]) from checkpoint, the shape in current model is torch.Size([4, 3]).");
  }
  // Not strict: missing and unexpected keys are reported, the rest is loaded.
  nn::StateDict partial;
  partial.emplace_back("0.bias", full({4}, 3.0));
  partial.emplace_back("extra", zeros({1}));
  auto keys = model.load_state_dict(partial, /*strict=*/false);
  EXPECT_EQ(keys.missing_keys, (std::vector<std::string>{"0.weight", "2.weight", "2.bias"}));
  EXPECT_EQ(keys.unexpected_keys, (std::vector<std::string>{"extra"}));
  EXPECT_TRUE(static_cast<TinyLinear&>(model[0]).bias.equal(full({4}, 3.0)));
  // A shape mismatch is an error even when not strict.
  nn::StateDict wrong{{"0.bias", zeros({3})}};
  EXPECT_THROW(model.load_state_dict(wrong, false), Error);
}
