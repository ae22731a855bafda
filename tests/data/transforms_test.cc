// Transforms against hand-computed values, and the batched fast path against the per-image path.
#include "actlab/data/transforms.h"

#include <gtest/gtest.h>

#include "actlab/actlab.h"
#include "data/data_test_util.h"

namespace actlab::data::transforms {
namespace {

using actlab::testing::error_of;

// value at [c][y][x] of a contiguous [C, H, W] float tensor
float at(const Tensor& t, int64_t c, int64_t y, int64_t x) {
  return t.data_ptr<float>()[(c * t.size(-2) + y) * t.size(-1) + x];
}

// [C, H, W] float tensor with value 100*c + 10*y + x
Tensor coords(int64_t C, int64_t H, int64_t W) {
  std::vector<float> v;
  for (int64_t c = 0; c < C; ++c)
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x) v.push_back(static_cast<float>(100 * c + 10 * y + x));
  return from_vector(v, {C, H, W});
}

TEST(TransformTest, ToTensorOfU8Image) {
  U8Image im{2, 3, 2, {0, 255, 51, 102, 153, 204, 1, 2, 3, 4, 5, 6}};  // HWC
  Tensor t = ToTensor()(im);
  ASSERT_EQ(t.sizes(), (Shape{2, 2, 3}));
  ASSERT_EQ(t.dtype(), Dtype::Float32);
  EXPECT_FLOAT_EQ(at(t, 0, 0, 0), 0.0f);
  EXPECT_FLOAT_EQ(at(t, 1, 0, 0), 1.0f);
  EXPECT_FLOAT_EQ(at(t, 0, 0, 1), 0.2f);
  EXPECT_FLOAT_EQ(at(t, 1, 0, 1), 0.4f);
  EXPECT_FLOAT_EQ(at(t, 0, 0, 2), 0.6f);
  EXPECT_FLOAT_EQ(at(t, 1, 0, 2), 0.8f);
  EXPECT_FLOAT_EQ(at(t, 0, 1, 2), 5.0f / 255.0f);
  EXPECT_FLOAT_EQ(at(t, 1, 1, 0), 2.0f / 255.0f);
  EXPECT_THROW(ToTensor()(U8Image{2, 2, 1, {1, 2, 3}}), ValueError);
}

TEST(TransformTest, ToTensorOfTensors) {
  // int64 HWC [2, 2, 3] stands for uint8: permuted to CHW and divided by 255
  Tensor hwc = tensor({{{0, 51, 255}, {102, 0, 0}}, {{0, 0, 204}, {255, 153, 0}}}, {Dtype::Int64});
  Tensor t = ToTensor()(hwc);
  ASSERT_EQ(t.sizes(), (Shape{3, 2, 2}));
  EXPECT_FLOAT_EQ(at(t, 1, 0, 0), 0.2f);
  EXPECT_FLOAT_EQ(at(t, 2, 0, 0), 1.0f);
  EXPECT_FLOAT_EQ(at(t, 0, 0, 1), 0.4f);
  EXPECT_FLOAT_EQ(at(t, 2, 1, 0), 0.8f);
  EXPECT_FLOAT_EQ(at(t, 1, 1, 1), 0.6f);
  // HW gets a channel dimension
  Tensor hw = ToTensor()(tensor({{255, 0}, {51, 0}}, {Dtype::Int64}));
  ASSERT_EQ(hw.sizes(), (Shape{1, 2, 2}));
  EXPECT_FLOAT_EQ(at(hw, 0, 1, 0), 0.2f);
  // floats are only permuted, as torchvision does for float arrays
  Tensor f = ToTensor()(tensor({{{0.5, 2.0}}}));  // [1, 1, 2] HWC
  ASSERT_EQ(f.sizes(), (Shape{2, 1, 1}));
  EXPECT_FLOAT_EQ(at(f, 1, 0, 0), 2.0f);
  EXPECT_EQ(error_of<ValueError>([] { ToTensor()(tensor({1.0, 2.0})); }), "pic should be 2/3 dimensional. Got 1 dimensions.");
  EXPECT_THROW(ToTensor()(tensor({{256, 0}}, {Dtype::Int64})), ValueError);
  EXPECT_THROW(ToTensor()(tensor({{-1, 0}}, {Dtype::Int64})), ValueError);
}

TEST(TransformTest, NormalizePerChannel) {
  Tensor x = tensor({{{0.0, 1.0}}, {{0.5, 0.75}}});  // [2, 1, 2]
  Normalize n({0.5, 0.25}, {0.5, 0.25});
  Tensor y = n(x);
  ASSERT_EQ(y.sizes(), (Shape{2, 1, 2}));
  EXPECT_FLOAT_EQ(at(y, 0, 0, 0), -1.0f);
  EXPECT_FLOAT_EQ(at(y, 0, 0, 1), 1.0f);
  EXPECT_FLOAT_EQ(at(y, 1, 0, 0), 1.0f);
  EXPECT_FLOAT_EQ(at(y, 1, 0, 1), 2.0f);
  EXPECT_FLOAT_EQ(at(x, 0, 0, 0), 0.0f);  // not in place
  // one value for all channels; float64 stays float64
  Tensor d = Normalize({0.1307}, {0.3081})(tensor({{{1.0}}, {{0.0}}}, {Dtype::Float64}));
  EXPECT_EQ(d.dtype(), Dtype::Float64);
  EXPECT_DOUBLE_EQ(d.data_ptr<double>()[0], (1.0 - 0.1307) / 0.3081);
  EXPECT_DOUBLE_EQ(d.data_ptr<double>()[1], (0.0 - 0.1307) / 0.3081);
  EXPECT_EQ(n.to_string(), "Normalize(mean=[0.5, 0.25], std=[0.5, 0.25])");
}

TEST(TransformTest, NormalizeErrors) {
  EXPECT_THROW(Normalize({0.5}, {0.0}), ValueError);
  EXPECT_THROW(Normalize({0.5, 0.5}, {1.0, 0.0}), ValueError);
  EXPECT_EQ(error_of<ValueError>([] { Normalize({0.5}, {1e-50})(zeros({1, 2, 2})); }),
            "std evaluated to zero after conversion to torch.float32, leading to division by zero.");
  EXPECT_EQ(error_of<ValueError>([] { Normalize({0.5}, {0.5})(zeros({1, 2, 2}, {Dtype::Int64})); }),
            "Input tensor should be a float tensor. Got torch.int64.");
  EXPECT_NE(error_of<ValueError>([] { Normalize({0.5, 0.5}, {0.5, 0.5})(zeros({3, 2, 2})); }).find("3 channels"),
            std::string::npos);
  EXPECT_THROW(Normalize({0.5}, {0.5})(zeros({2, 2})), ValueError);
}

TEST(TransformTest, NormalizeBatchMatchesPerImage) {
  Generator g(3);
  Tensor b = rand({4, 3, 5, 6}, {}, &g);
  Normalize n({0.1, 0.2, 0.3}, {0.9, 0.8, 0.7});
  Tensor yb = n.apply_batch(b, g);
  for (int64_t k = 0; k < 4; ++k) EXPECT_TRUE(yb[k].equal(n(b[k]))) << k;
}

TEST(TransformTest, HorizontalFlipExactPositions) {
  Tensor x = coords(2, 2, 3);
  Generator g(1);
  Tensor y = RandomHorizontalFlip(1.0)(x, g);
  ASSERT_EQ(y.sizes(), x.sizes());
  for (int64_t c = 0; c < 2; ++c)
    for (int64_t r = 0; r < 2; ++r)
      for (int64_t col = 0; col < 3; ++col) EXPECT_EQ(at(y, c, r, col), 100 * c + 10 * r + (2 - col));
  EXPECT_TRUE(RandomHorizontalFlip(0.0)(x, g).equal(x));
  EXPECT_THROW(RandomHorizontalFlip(1.5), ValueError);
  EXPECT_EQ(RandomHorizontalFlip().to_string(), "RandomHorizontalFlip(p=0.5)");
}

TEST(TransformTest, HorizontalFlipFollowsGenerator) {
  Tensor x = coords(1, 2, 4);
  Tensor flipped = RandomHorizontalFlip(1.0)(x, default_generator());
  Generator g(42), replay(42);
  int nflip = 0;
  for (int i = 0; i < 64; ++i) {
    Tensor y = RandomHorizontalFlip(0.5)(x, g);
    bool expect_flip = replay.next_double() < 0.5;
    nflip += expect_flip;
    EXPECT_TRUE(y.equal(expect_flip ? flipped : x)) << i;
  }
  EXPECT_GT(nflip, 10);
  EXPECT_LT(nflip, 54);
}

TEST(TransformTest, HorizontalFlipBatchDrawsPerSample) {
  Generator g0(5);
  Tensor b = rand({16, 2, 3, 5}, {}, &g0);
  Generator g(9), replay(9);
  Tensor y = RandomHorizontalFlip(0.5).apply_batch(b, g);
  int nflip = 0;
  for (int64_t k = 0; k < 16; ++k) {
    bool f = replay.next_double() < 0.5;
    nflip += f;
    Tensor expect = f ? RandomHorizontalFlip(1.0)(b[k], g0) : b[k];
    EXPECT_TRUE(y[k].equal(expect)) << k;
  }
  EXPECT_GT(nflip, 0);
  EXPECT_LT(nflip, 16);
}

TEST(TransformTest, CropWithPaddingAtKnownOffset) {
  Tensor x = from_vector({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, {1, 4, 4});
  RandomCrop crop(4, 2);
  Tensor y = crop.crop_at(x, 0, 0);  // top-left of the 8x8 padded image
  std::vector<double> expect = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 5, 6};
  EXPECT_EQ(y.to_vector(), expect);
  Tensor z = crop.crop_at(x, 3, 1);
  std::vector<double> expect_z = {0, 5, 6, 7, 0, 9, 10, 11, 0, 13, 14, 15, 0, 0, 0, 0};
  EXPECT_EQ(z.to_vector(), expect_z);
  EXPECT_TRUE(crop.crop_at(x, 2, 2).equal(x));
  EXPECT_THROW(crop.crop_at(x, 5, 0), ValueError);
  EXPECT_EQ(crop.to_string(), "RandomCrop(size=(4, 4), padding=2)");
}

TEST(TransformTest, RandomCropFollowsGenerator) {
  Tensor x = coords(2, 5, 6);
  RandomCrop crop({3, 4}, 1);
  Generator g(7), replay(7);
  for (int i = 0; i < 50; ++i) {
    Tensor y = crop(x, g);
    ASSERT_EQ(y.sizes(), (Shape{2, 3, 4}));
    int64_t top = static_cast<int64_t>(replay.next_u64() % (5 + 2 - 3 + 1));
    int64_t left = static_cast<int64_t>(replay.next_u64() % (6 + 2 - 4 + 1));
    for (int64_t c = 0; c < 2; ++c)
      for (int64_t r = 0; r < 3; ++r)
        for (int64_t col = 0; col < 4; ++col) {
          int64_t sy = top + r - 1, sx = left + col - 1;
          float want = (sy >= 0 && sy < 5 && sx >= 0 && sx < 6) ? static_cast<float>(100 * c + 10 * sy + sx) : 0.0f;
          ASSERT_EQ(at(y, c, r, col), want) << "draw " << i << " top " << top << " left " << left;
        }
  }
}

TEST(TransformTest, RandomCropEdgeCases) {
  Tensor x = coords(1, 8, 8);
  EXPECT_EQ(error_of<ValueError>([&] { RandomCrop(10)(x); }),
            "Required crop size (10, 10) is larger than input image size (8, 8)");
  // A crop as large as the (padded) image makes no draw, as torchvision
  Generator g(3);
  auto before = g.get_state();
  EXPECT_TRUE(RandomCrop(8)(x, g).equal(x));
  auto after = g.get_state();
  EXPECT_EQ(std::vector<uint64_t>(before.s, before.s + 4), std::vector<uint64_t>(after.s, after.s + 4));
  EXPECT_THROW(RandomCrop(0), ValueError);
  EXPECT_THROW(RandomCrop(3, -1), ValueError);
}

TEST(TransformTest, RandomCropBatchDrawsPerSample) {
  Generator g0(8);
  Tensor b = rand({6, 3, 7, 7}, {}, &g0);
  RandomCrop crop(5, 2);
  Generator g(21), replay(21);
  Tensor y = crop.apply_batch(b, g);
  ASSERT_EQ(y.sizes(), (Shape{6, 3, 5, 5}));
  for (int64_t k = 0; k < 6; ++k) EXPECT_TRUE(y[k].equal(crop(b[k], replay))) << k;
}

TEST(TransformTest, ComposeAndDefaultBatchPath) {
  Compose c(ToTensor(), Normalize({0.5}, {0.5}), RandomHorizontalFlip(1.0));
  Tensor img = tensor({{0, 255, 51}}, {Dtype::Int64});  // HW [1, 3]
  Tensor y = c(img);
  ASSERT_EQ(y.sizes(), (Shape{1, 1, 3}));
  EXPECT_FLOAT_EQ(at(y, 0, 0, 0), (0.2f - 0.5f) / 0.5f);
  EXPECT_FLOAT_EQ(at(y, 0, 0, 1), 1.0f);
  EXPECT_FLOAT_EQ(at(y, 0, 0, 2), -1.0f);
  EXPECT_EQ(c.to_string(),
            "Compose(\n    ToTensor()\n    Normalize(mean=[0.5], std=[0.5])\n    RandomHorizontalFlip(p=1.0)\n)");
  // ToTensor has no batch override: the default maps it over samples and stacks
  Tensor batch = tensor({{{0, 255}}, {{51, 0}}}, {Dtype::Int64});  // [2, 1, 2]: two HW images
  Generator g(1);
  Tensor yb = c.apply_batch(batch, g);
  ASSERT_EQ(yb.sizes(), (Shape{2, 1, 1, 2}));
  EXPECT_EQ(yb.to_vector(), (std::vector<double>{1.0, -1.0, -1.0, (0.2f - 0.5f) / 0.5f}));
}

}  // namespace
}  // namespace actlab::data::transforms
