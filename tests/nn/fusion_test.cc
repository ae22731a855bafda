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
