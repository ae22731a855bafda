// nn::utils::fuse_conv_bn_eval: Conv2d + BatchNorm folded for inference gives the unfused outputs.
#include <gtest/gtest.h>

#include <cmath>

#include "actlab/actlab.h"
#include "test_util.h"

using namespace actlab;

namespace {

// Trains the BatchNorm's running statistics away from their initial 0 / 1 with a few forward passes, and
// gives it non-trivial affine parameters.
void warm_up(nn::Sequential& model) {
  NoGradGuard ng;
  for (int i = 0; i < 5; ++i) model(randn({8, 3, 9, 9}) * 2.0 + 0.5);
  for (const auto& [name, p] : model.named_parameters())
    if (name.find(".weight") != std::string::npos && p.dim() == 1) Tensor(p).copy_(rand({p.numel()}) + 0.5);
    else if (name.find(".bias") != std::string::npos && p.dim() == 1) Tensor(p).copy_(randn({p.numel()}));
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  auto va = a.to_vector(), vb = b.to_vector();
  double m = 0;
  for (size_t i = 0; i < va.size(); ++i) m = std::max(m, std::fabs(va[i] - vb[i]));
  return m;
}

}  // namespace

TEST(Fusion, ConvBnMatchesUnfusedInEval) {
  manual_seed(11);
  for (bool conv_bias : {true, false})
    for (bool affine : {true, false}) {
      nn::Sequential model(nn::Conv2d(3, 6, 3, {.padding = 1, .bias = conv_bias}),
                           nn::BatchNorm2d(6, {.affine = affine}), nn::ReLU(),
                           nn::Conv2d(6, 4, 3, {.stride = 2, .padding_mode = "reflect"}), nn::BatchNorm2d(4),
                           nn::Flatten());
      model.train();
      warm_up(model);
      model.eval();
      Tensor x = randn({5, 3, 9, 9});
      Tensor ref = model(x);
      const uint64_t draw_before = Generator(default_generator()).next_u64();
      auto fused = nn::utils::fuse_conv_bn_eval(model);
      EXPECT_EQ(Generator(default_generator()).next_u64(), draw_before) << "fusion drew from the generator";
      ASSERT_EQ(fused->size(), 4);  // conv+bn, relu, conv+bn, flatten
      EXPECT_EQ((*fused)[0].type_name(), "Conv2d");
      EXPECT_EQ((*fused)[1].type_name(), "ReLU");
      EXPECT_EQ(fused->ptr(1), model.ptr(2));  // shared, not copied
      Tensor y = (*fused)(x);
      ASSERT_EQ(y.sizes(), ref.sizes());
      double scale = 0;
      for (double v : ref.to_vector()) scale = std::max(scale, std::fabs(v));
      EXPECT_LT(max_abs_diff(y, ref), 2e-6 * scale) << "conv_bias " << conv_bias << " affine " << affine;
      EXPECT_FALSE((*fused)[0].parameters()[0].requires_grad());
    }
}

TEST(Fusion, RefusesTrainingModeAndKeepsHookedPairs) {
  manual_seed(3);
  nn::Sequential model(nn::Conv2d(3, 4, 3), nn::BatchNorm2d(4), nn::Conv2d(4, 4, 1), nn::BatchNorm2d(4));
  try {
    nn::utils::fuse_conv_bn_eval(model);
    FAIL() << "fused a model in training mode";
  } catch (const ValueError& e) {
    EXPECT_STREQ(e.what(), "Fusion only for eval!");
  }
  model.eval();
  int calls = 0;
  auto handle = model[1].register_forward_hook([&](nn::Module&, const Tensor&, const Tensor&) {
    ++calls;
    return std::optional<Tensor>();
  });
  auto fused = nn::utils::fuse_conv_bn_eval(model);
  ASSERT_EQ(fused->size(), 3);  // the hooked BatchNorm stays, the second pair is fused
  EXPECT_EQ(fused->ptr(1), model.ptr(1));
  (*fused)(randn({2, 3, 6, 6}));
  EXPECT_EQ(calls, 1);
  handle.remove();
  EXPECT_EQ(nn::utils::fuse_conv_bn_eval(model)->size(), 2);

  nn::Conv2d conv(3, 4, 3);
  nn::BatchNorm2d no_stats(4, {.track_running_stats = false});
  conv.eval();
  no_stats.eval();
  EXPECT_THROW(nn::utils::fuse_conv_bn_eval(conv, no_stats), ValueError);
  nn::BatchNorm2d wrong(5);
  wrong.eval();
  EXPECT_THROW(nn::utils::fuse_conv_bn_eval(conv, wrong), ValueError);
}

namespace {

// The same bits, NaN matching NaN.
void expect_same_bits(const Tensor& a, const Tensor& b, const char* what) {
  ASSERT_EQ(a.defined(), b.defined()) << what;
  if (!a.defined()) return;
  ASSERT_EQ(a.sizes(), b.sizes()) << what;
  auto va = a.to_vector(), vb = b.to_vector();
  for (size_t i = 0; i < va.size(); ++i)
    ASSERT_TRUE((std::isnan(va[i]) && std::isnan(vb[i])) || std::signbit(va[i]) == std::signbit(vb[i]))
        << what << " at " << i << ": " << va[i] << " vs " << vb[i];
  for (size_t i = 0; i < va.size(); ++i)
    if (!std::isnan(va[i])) ASSERT_EQ(va[i], vb[i]) << what << " at " << i;
}

// Every parameter's gradient and every buffer of two models with the same structure: the same bits.
void expect_same_grads_and_buffers(const nn::Module& a, const nn::Module& b) {
  auto pa = a.named_parameters(), pb = b.named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) expect_same_bits(pa[i].second.grad(), pb[i].second.grad(), pa[i].first.c_str());
  auto ba = a.named_buffers(), bb = b.named_buffers();
  ASSERT_EQ(ba.size(), bb.size());
  for (size_t i = 0; i < ba.size(); ++i) expect_same_bits(ba[i].second, bb[i].second, ba[i].first.c_str());
}

}  // namespace

TEST(Fusion, SequentialRunsBatchNormReluAsOnePassWithTheSameBits) {
  // Sequential runs BatchNorm + ReLU (no hooks) through F::batch_norm_relu; a forward hook on the ReLU keeps the
  // two ops apart. Outputs, all gradients and the running statistics must be identical, in training and eval,
  // BatchNorm1d and 2d, with the in-place ReLU too, and with NaN, infinities, -0.0, zeros that normalize to
  // exactly 0 and many equal values at the channel's mean.
  const Dtype dt = kFloat32;
  for (bool two_d : {true, false})
    for (bool inplace : {false, true}) {
      SCOPED_TRACE(detail::concat(dtype_name(dt), two_d ? " 2d" : " 1d", inplace ? " inplace" : ""));
      manual_seed(5);
      auto make = [&] {
        std::shared_ptr<nn::Module> bn;
        if (two_d)
          bn = std::make_shared<nn::BatchNorm2d>(4);
        else
          bn = std::make_shared<nn::BatchNorm1d>(4);
        return std::make_shared<nn::Sequential>(bn, std::make_shared<nn::ReLU>(inplace));
      };
      auto fused = make(), apart = make();
      apart->operator[](1).register_forward_hook(
          [](nn::Module&, const Tensor&, const Tensor&) -> std::optional<Tensor> { return std::nullopt; });
      {
        NoGradGuard ng;
        Tensor w = rand({4}, {dt}) + 0.5, b = randn({4}, {dt});
        b.narrow(0, 2, 1).zero_();  // channel 2: bias 0, see below
        for (auto* m : {fused.get(), apart.get()}) {
          auto& bn = static_cast<nn::BatchNormBase&>((*m)[0]);
          bn.weight().copy_(w);
          bn.bias().copy_(b);
        }
      }
      const std::vector<int64_t> shape = two_d ? std::vector<int64_t>{6, 4, 5, 7} : std::vector<int64_t>{37, 4};
      std::vector<double> xv = (randn(shape, {dt}) * 2.0).to_vector();
      // Channel 1 holds its own mean (3) exactly in half its values, 1 and 5 in the rest; channel 3 gets an inf
      // (its whole output is then NaN), channel 2 a -0.0 and some zeros.
      const int64_t S = two_d ? 35 : 1, C = 4;
      xv[static_cast<size_t>(2 * S)] = -0.0;
      for (int64_t n = 1; n < shape[0]; n += 2) xv[static_cast<size_t>((n * C + 2) * S)] = 0.0;
      xv[static_cast<size_t>(3 * S)] = std::numeric_limits<double>::infinity();
      for (int64_t n = 0; n < shape[0]; ++n)
        for (int64_t s = 0; s < S; ++s)
          if ((n + s) % 2 == 0) xv[static_cast<size_t>((n * C + 1) * S + s)] = 3.0;
          else xv[static_cast<size_t>((n * C + 1) * S + s)] = ((n + s) % 4 == 1) ? 1.0 : 5.0;
      for (bool training : {true, false}) {
        SCOPED_TRACE(training ? "train" : "eval");
        fused->train(training);
        apart->train(training);
        if (!training) {
          // Channel 1's running mean 3 exactly, as its batch mean in training; channel 2's 0, so that with
          // bias 0 its zeros normalize to exactly 0, where ReLU passes no gradient.
          NoGradGuard ng;
          for (auto* m : {fused.get(), apart.get()}) {
            auto& bn = static_cast<nn::BatchNormBase&>((*m)[0]);
            std::vector<double> rm = bn.running_mean().to_vector();
            rm[1] = 3.0;
            rm[2] = 0.0;
            bn.running_mean().copy_(from_data(rm, {4}, {dt}));
          }
        }
        Tensor x1 = from_data(xv, shape, {dt}).requires_grad_(true);
        Tensor x2 = from_data(xv, shape, {dt}).requires_grad_(true);
        Tensor y1 = (*fused)(x1 * 1.0), y2 = (*apart)(x2 * 1.0);
        EXPECT_EQ(y1.grad_fn()->name(), "BatchNormReluBackward0");
        EXPECT_NE(y2.grad_fn()->name(), "BatchNormReluBackward0");
        expect_same_bits(y1, y2, "output");
        Tensor g = randn(shape, {dt});
        y1.backward(g);
        y2.backward(g);
        expect_same_bits(x1.grad(), x2.grad(), "input gradient");
        expect_same_grads_and_buffers(*fused, *apart);  // weight, bias, running statistics
        fused->zero_grad();
        apart->zero_grad();
      }
    }
}

TEST(Fusion, BatchNormReluFunctionalMatchesTwoOpsInFloat64) {
  manual_seed(9);
  for (bool training : {true, false}) {
    Tensor x1 = (randn({5, 3, 4, 6}, {kFloat64}) * 3.0).requires_grad_(true), x2 = x1.detach().requires_grad_(true);
    Tensor w1 = (rand({3}, {kFloat64}) + 0.5).requires_grad_(true), w2 = w1.detach().requires_grad_(true);
    Tensor b1 = randn({3}, {kFloat64}).requires_grad_(true), b2 = b1.detach().requires_grad_(true);
    Tensor rm1 = full({3}, 0.2, {kFloat64}), rv1 = full({3}, 2.0, {kFloat64}), rm2 = rm1.clone(), rv2 = rv1.clone();
    Tensor y1 = nn::functional::batch_norm_relu(x1, rm1, rv1, w1, b1, training, 0.1, 1e-5);
    Tensor y2 = nn::functional::relu(nn::functional::batch_norm(x2, rm2, rv2, w2, b2, training, 0.1, 1e-5));
    expect_same_bits(y1, y2, "output");
    Tensor g = randn({5, 3, 4, 6}, {kFloat64});
    y1.backward(g);
    y2.backward(g);
    expect_same_bits(x1.grad(), x2.grad(), "input gradient");
    expect_same_bits(w1.grad(), w2.grad(), "weight gradient");
    expect_same_bits(b1.grad(), b2.grad(), "bias gradient");
    expect_same_bits(rm1, rm2, "running_mean");
    expect_same_bits(rv1, rv2, "running_var");
  }
}

TEST(Fusion, BatchNormReluGradcheck) {
  for (bool training : {true, false}) {
    SCOPED_TRACE(training ? "train" : "eval");
    actlab::testing::expect_gradcheck(
        [training](const std::vector<Tensor>& v) {
          Tensor rm = full({3}, 0.1, {kFloat64}), rv = full({3}, 1.5, {kFloat64});
          return nn::functional::batch_norm_relu(v[0], rm, rv, v[1], v[2], training, 0.1, 1e-5);
        },
        {randn({4, 3, 2, 3}, {kFloat64}).requires_grad_(true), (rand({3}, {kFloat64}) + 0.5).requires_grad_(true),
         randn({3}, {kFloat64}).requires_grad_(true)});
  }
}

TEST(Fusion, SequentialRunsReluAdaptiveAvgPoolAsOnePassWithTheSameBits) {
  // ReLU + AdaptiveAvgPool2d (no hooks) through F::relu_adaptive_avg_pool2d; a forward hook on the pool keeps them
  // apart. Global (1x1) and general output sizes; NaN/inf/-0.0 and exact zeros in the input (ReLU's mask).
  for (auto size : {std::pair<int64_t, int64_t>{1, 1}, {2, 3}}) {
    const int64_t oh = size.first, ow = size.second;  // (clang 14 cannot capture structured bindings)
    SCOPED_TRACE(detail::concat(oh, "x", ow));
    auto make = [&] {
      return std::make_shared<nn::Sequential>(std::make_shared<nn::Conv2d>(2, 4, 3, nn::Conv2dOptions{.padding = 1}),
                                              std::make_shared<nn::ReLU>(),
                                              std::make_shared<nn::AdaptiveAvgPool2d>(nn::Size2{oh, ow}));
    };
    manual_seed(8);
    auto fused = make();
    manual_seed(8);
    auto apart = make();
    apart->operator[](2).register_forward_hook(
        [](nn::Module&, const Tensor&, const Tensor&) -> std::optional<Tensor> { return std::nullopt; });
    {
      NoGradGuard ng;
      for (auto* m : {fused.get(), apart.get()}) {
        auto& conv = static_cast<nn::Conv2d&>((*m)[0]);
        conv.weight().narrow(0, 1, 1).zero_();  // channel 1: exactly 0 everywhere (bias 0), ReLU's kink
        conv.bias().narrow(0, 1, 1).zero_();
      }
    }
    std::vector<double> xv = randn({3, 2, 7, 9}).to_vector();
    xv[3] = -0.0;
    xv[60] = std::numeric_limits<double>::infinity();
    xv[200] = std::nan("");
    Tensor x1 = from_data(xv, {3, 2, 7, 9}, {kFloat32}).requires_grad_(true);
    Tensor x2 = from_data(xv, {3, 2, 7, 9}, {kFloat32}).requires_grad_(true);
    Tensor y1 = (*fused)(x1), y2 = (*apart)(x2);
    EXPECT_EQ(y1.grad_fn()->name(), "ReluAdaptiveAvgPool2DBackward0");
    EXPECT_EQ(y2.grad_fn()->name(), "AdaptiveAvgPool2DBackward0");
    expect_same_bits(y1, y2, "output");
    Tensor g = randn(y1.sizes());
    y1.backward(g);
    y2.backward(g);
    expect_same_bits(x1.grad(), x2.grad(), "input gradient");
    expect_same_grads_and_buffers(*fused, *apart);  // the conv's weight and bias
  }
  // An in-place ReLU first in a Sequential changes the caller's tensor, as in PyTorch: not fused.
  nn::Sequential inplace(nn::ReLU(true), nn::AdaptiveAvgPool2d(1));
  Tensor x = randn({2, 3, 4, 4});
  inplace(x);
  EXPECT_GE(x.min().item<double>(), 0.0);
}

TEST(Fusion, ReluAdaptiveAvgPoolFunctionalInFloat64AndGradcheck) {
  manual_seed(6);
  for (auto [oh, ow] : {std::pair<int64_t, int64_t>{1, 1}, {3, 2}}) {
    Tensor x1 = randn({2, 3, 5, 6}, {kFloat64}).requires_grad_(true), x2 = x1.detach().requires_grad_(true);
    Tensor y1 = nn::functional::relu_adaptive_avg_pool2d(x1, oh, ow);
    Tensor y2 = nn::functional::adaptive_avg_pool2d(nn::functional::relu(x2), oh, ow);
    expect_same_bits(y1, y2, "output");
    Tensor g = randn(y1.sizes(), {kFloat64});
    y1.backward(g);
    y2.backward(g);
    expect_same_bits(x1.grad(), x2.grad(), "input gradient");
    actlab::testing::expect_gradcheck(
        [oh = oh, ow = ow](const std::vector<Tensor>& v) { return nn::functional::relu_adaptive_avg_pool2d(v[0], oh, ow); },
        {randn({2, 2, 4, 5}, {kFloat64}).requires_grad_(true)});
  }
}
