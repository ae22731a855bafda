#include <gtest/gtest.h>

#include "actlab/actlab.h"
#include "test_util.h"

using namespace actlab;
using actlab::testing::expect_gradcheck;
using actlab::testing::leaf64;

TEST(Autograd, SimpleChainAndAccumulation) {
  Tensor x = tensor({1, 2, 3}, {.requires_grad = true});
  Tensor y = (x * x).sum();
  y.backward();
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{2, 4, 6}));
  // Gradients accumulate into leaves.
  (x * 3.0).sum().backward();
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{5, 7, 9}));
  EXPECT_TRUE(x.is_leaf());
  EXPECT_FALSE(y.is_leaf());
  EXPECT_EQ(y.grad_fn()->name(), "SumBackward1");
}

TEST(Autograd, NonScalarNeedsGradient) {
  Tensor x = tensor({1, 2}, {.requires_grad = true});
  Tensor y = x * 2.0;
  try {
    y.backward();
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "grad can be implicitly created only for scalar outputs");
  }
  y.backward(tensor({1, 10}));
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{2, 20}));
}

TEST(Autograd, NoGradDetachRetainGrad) {
  Tensor x = tensor({1, 2}, {.requires_grad = true});
  {
    NoGradGuard ng;
    Tensor y = x * 2.0;
    EXPECT_FALSE(y.requires_grad());
  }
  Tensor d = x.detach();
  EXPECT_FALSE(d.requires_grad());
  EXPECT_TRUE(d.shares_storage(x));
  Tensor h = x * 3.0;
  h.retain_grad();
  (h * h).sum().backward();
  EXPECT_EQ(h.grad().to_vector(), (std::vector<double>{6, 12}));
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{18, 36}));
  try {
    tensor({1}).backward();
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "element 0 of tensors does not require grad and does not have a grad_fn");
  }
}

TEST(Autograd, GraphFreedUnlessRetained) {
  Tensor x = tensor({1, 2}, {.requires_grad = true});
  Tensor y = (x * x).sum();
  y.backward(Tensor(), /*retain_graph=*/true);
  y.backward();
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{4, 8}));
  try {
    y.backward();
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Trying to backward through the graph a second time"), std::string::npos);
  }
}

TEST(Autograd, LeafInplaceError) {
  Tensor x = tensor({1, 2}, {.requires_grad = true});
  try {
    x.add_(1.0);
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "a leaf Variable that requires grad is being used in an in-place operation.");
  }
  {
    NoGradGuard ng;
    x.add_(1.0);  // allowed under no_grad, as optimizers do
  }
  EXPECT_EQ(x.to_vector(), (std::vector<double>{2, 3}));
}

TEST(Autograd, VersionCounterError) {
  Tensor x = tensor({1, 2}, {.requires_grad = true});
  Tensor y = exp(x);  // saves its output
  Tensor z = y.sum();
  y.mul_(2.0);
  try {
    z.backward();
    FAIL() << "expected the version error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "one of the variables needed for gradient computation has been modified by an inplace operation: "
                 "[torch.FloatTensor [2]], which is output 0 of ExpBackward0, is at version 1; expected version 0 "
                 "instead. Hint: enable anomaly detection to find the operation that failed to compute its gradient, "
                 "with torch.autograd.set_detect_anomaly(True).");
  }
}

TEST(Autograd, InplaceOnNonLeafIsRecorded) {
  Tensor x = tensor({1, 2, 3}, {.requires_grad = true});
  Tensor y = x * 2.0;
  Tensor z = x * x;
  y.mul_(z);  // y = 2x * x^2
  y.sum().backward();
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{6, 24, 54}));
  // As in PyTorch, multiplying a tensor in place by itself overwrites a factor its gradient needs.
  Tensor w = x * 2.0;
  w.mul_(w);
  EXPECT_THROW(w.sum().backward(), Error);
}

TEST(Autograd, Hooks) {
  Tensor x = tensor({1, 2}, {.requires_grad = true});
  x.register_hook([](const Tensor& g) { return g * 10.0; });
  (x * 1.0).sum().backward();
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{10, 10}));
}

TEST(Gradcheck, Arithmetic) {
  expect_gradcheck([](const std::vector<Tensor>& in) { return in[0] * in[1] + in[0] / (in[1] * in[1] + 1.0); },
                   {leaf64({3, 4}, 1), leaf64({4}, 2)});
  expect_gradcheck([](const std::vector<Tensor>& in) { return in[0] - 2.0 * in[1]; }, {leaf64({2, 3}, 3), leaf64({2, 1}, 4)});
  expect_gradcheck([](const std::vector<Tensor>& in) { return exp(in[0]) + log(in[0] * in[0] + 1.0) + sqrt(abs(in[0]) + 1.0); },
                   {leaf64({5}, 5)});
  expect_gradcheck([](const std::vector<Tensor>& in) { return pow(in[0], 3.0) + pow(abs(in[0]) + 1.0, in[1]); },
                   {leaf64({4}, 6), leaf64({4}, 7)});
  expect_gradcheck([](const std::vector<Tensor>& in) { return maximum(in[0], in[1]) + minimum(in[0], in[1]); },
                   {leaf64({6}, 8), leaf64({6}, 9)});
  expect_gradcheck([](const std::vector<Tensor>& in) { return where(in[0] > 0.0, in[0], in[1]); },
                   {leaf64({6}, 10), leaf64({6}, 11)});
  expect_gradcheck([](const std::vector<Tensor>& in) { return in[0].clamp(-0.5, 0.5); }, {leaf64({8}, 12)});
}

TEST(Gradcheck, ReductionsAndViews) {
  expect_gradcheck([](const std::vector<Tensor>& in) { return in[0].sum({1}); }, {leaf64({3, 4}, 1)});
  expect_gradcheck([](const std::vector<Tensor>& in) { return in[0].mean({0}, true); }, {leaf64({3, 4}, 2)});
  expect_gradcheck([](const std::vector<Tensor>& in) { return in[0].var({1}); }, {leaf64({3, 4}, 3)});
  expect_gradcheck([](const std::vector<Tensor>& in) { return in[0].std({0}, false); }, {leaf64({3, 4}, 4)});
  expect_gradcheck([](const std::vector<Tensor>& in) { return in[0].max(1); }, {leaf64({3, 4}, 5)});
  expect_gradcheck([](const std::vector<Tensor>& in) { return in[0].min(); }, {leaf64({3, 4}, 6)});
  expect_gradcheck([](const std::vector<Tensor>& in) { return in[0].transpose(0, 1).reshape({-1}).narrow(0, 2, 5); },
                   {leaf64({3, 4}, 7)});
  expect_gradcheck([](const std::vector<Tensor>& in) { return in[0].select(1, 2) * in[0].slice(1, 0, 4, 2).sum({1}); },
                   {leaf64({3, 4}, 8)});
  expect_gradcheck([](const std::vector<Tensor>& in) { return in[0].unsqueeze(0).expand({2, 3, 4}).permute({2, 0, 1}); },
                   {leaf64({3, 4}, 9)});
  expect_gradcheck([](const std::vector<Tensor>& in) { return cat({in[0], in[1]}, 1); }, {leaf64({2, 3}, 10), leaf64({2, 2}, 11)});
  expect_gradcheck([](const std::vector<Tensor>& in) { return stack({in[0], in[1]}, 0); }, {leaf64({2, 3}, 12), leaf64({2, 3}, 13)});
}

TEST(Gradcheck, Matmul) {
  expect_gradcheck([](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); }, {leaf64({3, 4}, 1), leaf64({4, 2}, 2)});
  expect_gradcheck([](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); }, {leaf64({2, 3, 4}, 3), leaf64({4, 2}, 4)});
  expect_gradcheck([](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); }, {leaf64({2, 3, 4}, 5), leaf64({2, 4, 2}, 6)});
  expect_gradcheck([](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); }, {leaf64({4}, 7), leaf64({4, 3}, 8)});
}

TEST(Gradcheck, Float32MatmulMatchesFloat64) {
  Tensor a = randn({64, 48}), b = randn({48, 32});
  Tensor r32 = matmul(a, b), r64 = matmul(a.to(kFloat64), b.to(kFloat64));
  EXPECT_TRUE(r32.to(kFloat64).allclose(r64, 1e-4, 1e-4));
}
