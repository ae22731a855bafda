#include <gtest/gtest.h>

#include "actlab/actlab.h"
#include "actlab/nn/rnn.h"
#include "nn/train_golden.h"

using namespace actlab;
using actlab::testing::expect_near_json;
using actlab::testing::tensor_from_json;

TEST(Rnn, GoldenForwardAndBackward) {
  auto g = actlab::testing::load_train_golden("rnn");
  ASSERT_EQ(g["cases"].size(), 5u);
  for (auto& c : g["cases"]) {
    std::string name = c["name"];
    auto& o = c["options"];
    nn::RNN rnn(c["input_size"].get<int64_t>(), c["hidden_size"].get<int64_t>(),
                {.num_layers = o.value("num_layers", int64_t{1}),
                 .nonlinearity = o.value("nonlinearity", std::string("tanh")),
                 .bias = o.value("bias", true),
                 .batch_first = o.value("batch_first", false)});
    EXPECT_EQ(rnn.to_string(), c["repr"].get<std::string>()) << name;
    nn::StateDict sd;
    for (auto& [pname, pt] : c["params"].get<std::vector<std::pair<std::string, nlohmann::json>>>())
      sd.emplace_back(pname, tensor_from_json(pt));
    rnn.load_state_dict(sd);  // also checks PyTorch's parameter names and order
    auto named = rnn.named_parameters();
    ASSERT_EQ(named.size(), sd.size());
    for (size_t i = 0; i < sd.size(); ++i) EXPECT_EQ(named[i].first, sd[i].first);

    Tensor x = tensor_from_json(c["x"]);
    x.requires_grad_(true);
    Tensor h0;
    if (c.contains("h0")) {
      h0 = tensor_from_json(c["h0"]);
      h0.requires_grad_(true);
    }
    auto [out, hn] = rnn.forward_with_state(x, h0);
    expect_near_json(out, c["out"], 1e-5, 1e-6, name + " output");
    expect_near_json(hn, c["hn"], 1e-5, 1e-6, name + " h_n");
    Tensor loss = sum(out * tensor_from_json(c["gy"])) + sum(hn * tensor_from_json(c["ghn"]));
    loss.backward();
    expect_near_json(x.grad(), c["gx"], 1e-4, 1e-5, name + " grad x");
    if (h0.defined()) expect_near_json(h0.grad(), c["gh0"], 1e-4, 1e-5, name + " grad h0");
    for (auto& [pname, gt] : c["grads"].get<std::vector<std::pair<std::string, nlohmann::json>>>()) {
      Tensor p;
      for (auto& [n, t] : named)
        if (n == pname) p = t;
      expect_near_json(p.grad(), gt, 1e-4, 1e-5, name + " grad " + pname);
    }
    // Module call returns the output sequence.
    EXPECT_TRUE(rnn(x).allclose(rnn.forward_with_state(x).output.detach()));
    if (!h0.defined()) EXPECT_TRUE(rnn(x).allclose(out.detach()));
  }
}

TEST(Rnn, InitRangeAndErrors) {
  Generator gen(1);
  nn::RNN rnn(3, 16, {.num_layers = 2}, &gen);
  auto ps = rnn.named_parameters();
  ASSERT_EQ(ps.size(), 8u);
  EXPECT_EQ(ps[4].first, "weight_ih_l1");
  EXPECT_EQ(ps[4].second.sizes(), (Shape{16, 16}));
  for (auto& [n, p] : ps) {
    EXPECT_LE(p.max().item(), 0.25) << n;
    EXPECT_GE(p.min().item(), -0.25) << n;
    EXPECT_TRUE(p.requires_grad());
  }
  EXPECT_THROW(nn::RNN(3, 4, {.nonlinearity = "gelu"}), ValueError);
  try {
    rnn(zeros({2, 1, 4}));
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_STREQ(e.what(), "input.size(-1) must be equal to input_size. Expected 3, got 4");
  }
  EXPECT_THROW(rnn(zeros({1, 1, 1, 3})), ValueError);
  try {
    rnn.forward_with_state(zeros({2, 5, 3}), zeros({1, 5, 16}));
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_STREQ(e.what(), "Expected hidden size (2, 5, 16), got [1, 5, 16]");
  }
}
