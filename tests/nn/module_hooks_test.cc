// Module hooks with torch.nn.Module's semantics: order, prepend, replacement, removal, global hooks,
// backward hooks through identity nodes, and the in-place ReLU case.
#include <gtest/gtest.h>

#include "actlab/actlab.h"
#include "actlab/nn/activation.h"
#include "actlab/nn/functional.h"
#include "actlab/nn/sequential.h"
#include "nn/test_modules.h"

using namespace actlab;
using actlab::testing::TinyLinear;

namespace {
Tensor leaf(std::vector<float> v, Shape s = {}) {
  Tensor t = from_vector(v, s);
  t.requires_grad_(true);
  return t;
}
}  // namespace

TEST(ModuleHooks, ForwardHooksRunInOrderWithPrepend) {
  nn::ReLU relu;
  std::vector<std::string> log;
  relu.register_forward_pre_hook([&](nn::Module&, const Tensor&) { log.push_back("pre1"); return std::nullopt; });
  relu.register_forward_pre_hook([&](nn::Module&, const Tensor&) { log.push_back("pre0"); return std::nullopt; },
                                 /*prepend=*/true);
  relu.register_forward_hook([&](nn::Module& m, const Tensor&, const Tensor&) {
    log.push_back("fwd1:" + m.type_name());
    return std::nullopt;
  });
  relu.register_forward_hook([&](nn::Module&, const Tensor&, const Tensor&) { log.push_back("fwd2"); return std::nullopt; });
  relu.register_forward_hook([&](nn::Module&, const Tensor&, const Tensor&) { log.push_back("fwd0"); return std::nullopt; },
                             true);
  relu(from_vector({1.0f, -1.0f}));
  EXPECT_EQ(log, (std::vector<std::string>{"pre0", "pre1", "fwd0", "fwd1:ReLU", "fwd2"}));
}

TEST(ModuleHooks, ReplaceInputAndOutput) {
  nn::Tanh tanh_m;
  Tensor x = from_vector({0.1f, -0.4f, 0.9f});
  Tensor seen_input;
  tanh_m.register_forward_pre_hook([](nn::Module&, const Tensor& in) -> std::optional<Tensor> { return in * 2.0; });
  tanh_m.register_forward_hook([&](nn::Module&, const Tensor& in, const Tensor&) -> std::optional<Tensor> {
    seen_input = in;
    return std::nullopt;
  });
  tanh_m.register_forward_hook([](nn::Module&, const Tensor&, const Tensor& out) -> std::optional<Tensor> {
    return out + 1.0;
  });
  Tensor y = tanh_m(x);
  EXPECT_TRUE(seen_input.allclose(x * 2.0));  // forward hooks see the replaced input
  EXPECT_TRUE(y.allclose(nn::functional::tanh(x * 2.0) + 1.0));
  // forward() itself bypasses the hooks, as in PyTorch.
  EXPECT_TRUE(tanh_m.forward(x).allclose(nn::functional::tanh(x)));
}

TEST(ModuleHooks, RemovalIsIdempotentAndSafeAfterDestruction) {
  int calls = 0;
  auto m = std::make_unique<nn::ReLU>();
  auto h1 = m->register_forward_hook([&](nn::Module&, const Tensor&, const Tensor&) { ++calls; return std::nullopt; });
  auto h2 = m->register_forward_hook([&](nn::Module&, const Tensor&, const Tensor&) { calls += 10; return std::nullopt; });
  (*m)(ones({2}));
  EXPECT_EQ(calls, 11);
  h1.remove();
  h1.remove();
  (*m)(ones({2}));
  EXPECT_EQ(calls, 21);
  m.reset();
  h2.remove();  // the module is gone: nothing happens
  h2.remove();
  EXPECT_EQ(calls, 21);
}

TEST(ModuleHooks, CopiesHaveTheirOwnHooksAndMovesKeepThem) {
  int calls = 0;
  nn::ReLU a;
  auto h = a.register_forward_hook([&](nn::Module&, const Tensor&, const Tensor&) { ++calls; return std::nullopt; });
  nn::ReLU b = a;  // copy: the hook is copied
  b(ones({1}));
  EXPECT_EQ(calls, 1);
  h.remove();  // removes from a only
  a(ones({1}));
  b(ones({1}));
  EXPECT_EQ(calls, 2);
  nn::ReLU c;
  auto hc = c.register_forward_hook([&](nn::Module&, const Tensor&, const Tensor&) { calls += 100; return std::nullopt; });
  nn::ReLU d = std::move(c);
  d(ones({1}));
  EXPECT_EQ(calls, 102);
  hc.remove();  // the handle follows the moved hooks
  d(ones({1}));
  EXPECT_EQ(calls, 102);
}

TEST(ModuleHooks, GlobalHooksRunForEveryModuleBeforeTheirOwn) {
  auto model = nn::Sequential(nn::ReLU(), nn::Tanh());
  std::vector<std::string> log;
  model[1].register_forward_hook([&](nn::Module&, const Tensor&, const Tensor&) {
    log.push_back("own:Tanh");
    return std::nullopt;
  });
  auto hg = nn::register_module_forward_hook([&](nn::Module& m, const Tensor&, const Tensor&) {
    log.push_back("global:" + m.type_name());
    return std::nullopt;
  });
  auto hp = nn::register_module_forward_pre_hook([&](nn::Module& m, const Tensor&) {
    log.push_back("pre:" + m.type_name());
    return std::nullopt;
  });
  model(from_vector({1.0f}));
  hg.remove();
  hp.remove();
  model(from_vector({1.0f}));
  EXPECT_EQ(log, (std::vector<std::string>{"pre:Sequential", "pre:ReLU", "global:ReLU", "pre:Tanh", "global:Tanh",
                                           "own:Tanh", "global:Sequential", "own:Tanh"}));
}

TEST(ModuleHooks, InplaceReluForwardHookSeesRectifiedInput) {
  Tensor x = from_vector({-1.0f, 2.0f, -3.0f});
  nn::ReLU relu(/*inplace=*/true);
  std::vector<double> seen_in, seen_out;
  relu.register_forward_hook([&](nn::Module&, const Tensor& in, const Tensor& out) {
    seen_in = in.to_vector();
    seen_out = out.to_vector();
    return std::nullopt;
  });
  relu(x);
  EXPECT_EQ(seen_in, (std::vector<double>{0.0, 2.0, 0.0}));  // as in PyTorch: input and output are one tensor
  EXPECT_EQ(seen_out, seen_in);
  EXPECT_EQ(x.to_vector(), seen_in);
}

TEST(ModuleHooks, FullBackwardHookSeesAndReplacesGradients) {
  nn::Tanh m;
  Tensor x = leaf({0.3f, -0.7f, 1.2f});
  Tensor gy = from_vector({1.0f, 2.0f, -0.5f});
  Tensor got_gi, got_go;
  int calls = 0;
  auto h = m.register_full_backward_hook([&](nn::Module& mod, const Tensor& gi, const Tensor& go) -> std::optional<Tensor> {
    EXPECT_EQ(&mod, &m);
    got_gi = gi.clone();
    got_go = go.clone();
    ++calls;
    return std::nullopt;
  });
  Tensor y = m(x);
  y.backward(gy);
  EXPECT_EQ(calls, 1);
  Tensor t = nn::functional::tanh(x.detach());
  Tensor expected_gi = gy * (1.0 - t * t);
  EXPECT_TRUE(got_go.allclose(gy));
  EXPECT_TRUE(got_gi.allclose(expected_gi));
  EXPECT_TRUE(x.grad().allclose(expected_gi));

  // Replacement of grad_input.
  h.remove();
  m.register_full_backward_hook([](nn::Module&, const Tensor& gi, const Tensor&) -> std::optional<Tensor> {
    return gi * 3.0;
  });
  x.set_grad(Tensor());
  m(x).backward(gy);
  EXPECT_TRUE(x.grad().allclose(expected_gi * 3.0));
}

TEST(ModuleHooks, BackwardPreHookReplacesGradOutputAndOrderHolds) {
  nn::Sigmoid m;
  Tensor x = leaf({0.5f, -1.5f});
  Tensor gy = from_vector({1.0f, -2.0f});
  std::vector<std::string> log;
  Tensor seen_go;
  m.register_full_backward_pre_hook([&](nn::Module&, const Tensor& go) -> std::optional<Tensor> {
    log.push_back("pre");
    return go * 2.0;
  });
  m.register_full_backward_hook([&](nn::Module&, const Tensor&, const Tensor& go) -> std::optional<Tensor> {
    log.push_back("b1");
    seen_go = go.clone();
    return std::nullopt;
  });
  m.register_full_backward_hook([&](nn::Module&, const Tensor&, const Tensor&) -> std::optional<Tensor> {
    log.push_back("b0");
    return std::nullopt;
  }, /*prepend=*/true);
  auto hg = nn::register_module_full_backward_hook([&](nn::Module&, const Tensor&, const Tensor&) -> std::optional<Tensor> {
    log.push_back("global");
    return std::nullopt;
  });
  m(x).backward(gy);
  hg.remove();
  EXPECT_EQ(log, (std::vector<std::string>{"pre", "global", "b0", "b1"}));
  EXPECT_TRUE(seen_go.allclose(gy * 2.0));
  Tensor s = nn::functional::sigmoid(x.detach());
  EXPECT_TRUE(x.grad().allclose(gy * 2.0 * s * (1.0 - s)));
}

TEST(ModuleHooks, BackwardHookWithoutInputGrad) {
  TinyLinear lin(3, 2);
  Tensor x = from_vector({1.0f, 2.0f, 3.0f}, {1, 3});
  int calls = 0;
  Tensor gi_seen = ones({1});
  auto h = lin.register_full_backward_hook([&](nn::Module&, const Tensor& gi, const Tensor& go) -> std::optional<Tensor> {
    ++calls;
    gi_seen = gi;
    EXPECT_EQ(go.sizes(), (Shape{1, 2}));
    return std::nullopt;
  });
  sum(lin(x)).backward();
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(gi_seen.defined());  // PyTorch passes None
  EXPECT_TRUE(lin.weight.grad().defined());
  h.remove();
  lin.register_full_backward_hook([](nn::Module&, const Tensor&, const Tensor& go) -> std::optional<Tensor> {
    return go;
  });
  try {
    sum(lin(x)).backward();
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "Backward hook for Modules where no input requires gradient should always return None or "
                           "None for all gradients.");
  }
}

TEST(ModuleHooks, BackwardHooksInsideSequentialAndAfterModuleDestroyed) {
  auto inner = std::make_shared<nn::Tanh>();
  auto model = nn::Sequential(TinyLinear(2, 2), inner);
  Tensor x = leaf({0.5f, -0.25f}, {1, 2});
  int calls = 0;
  inner->register_full_backward_hook([&](nn::Module&, const Tensor& gi, const Tensor&) -> std::optional<Tensor> {
    ++calls;
    EXPECT_TRUE(gi.defined());
    return std::nullopt;
  });
  sum(model(x)).backward();
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(x.grad().defined());

  // A module destroyed before backward: its hooks are skipped, gradients still flow.
  auto tmp = std::make_unique<nn::Tanh>();
  tmp->register_full_backward_hook([&](nn::Module&, const Tensor&, const Tensor&) -> std::optional<Tensor> {
    calls += 100;
    return std::nullopt;
  });
  Tensor z = leaf({0.2f});
  Tensor y = (*tmp)(z);
  tmp.reset();
  y.backward(ones_like(y));
  EXPECT_EQ(calls, 1);
  Tensor t = nn::functional::tanh(z.detach());
  EXPECT_TRUE(z.grad().allclose(1.0 - t * t));
}

TEST(ModuleHooks, InplaceReluWithBackwardHookIsRefusedAsInPyTorch) {
  // PyTorch: "Output 0 of BackwardHookFunctionBackward is a view and is being modified inplace ..."
  nn::ReLU relu(/*inplace=*/true);
  relu.register_full_backward_hook([](nn::Module&, const Tensor&, const Tensor&) { return std::nullopt; });
  Tensor x = leaf({-1.0f, 2.0f});
  EXPECT_THROW(relu(x), Error);
  try {
    relu(x * 1.0);
    FAIL() << "expected PyTorch's error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("Output 0 of BackwardHookFunctionBackward is a view and is being modified "
                                          "inplace. This view was created inside a custom Function",
                                          0),
              0u)
        << e.what();
  }
  EXPECT_EQ(x.to_vector(), (std::vector<double>{-1.0, 2.0}));
  // Without grad the input is not wrapped and the in-place op runs.
  Tensor y = from_vector({-1.0f, 2.0f});
  relu(y);
  EXPECT_EQ(y.to_vector(), (std::vector<double>{0.0, 2.0}));
}
