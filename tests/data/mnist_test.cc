// FashionMNIST: a small generated data set in MNIST format, malformed ones, and the real one when installed.
#include "actlab/data/mnist.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>

#include "actlab/core/error.h"
#include "actlab/data/idx.h"
#include "data/data_test_util.h"

namespace actlab::data {
namespace {

using actlab::testing::error_of;
using actlab::testing::ScratchDir;

struct Fake {
  std::vector<uint8_t> images, labels;
};

// n images of h x w with pseudo-random pixels, labels in 0..9, written as <prefix>-images-idx3-ubyte[.gz].
Fake write_split(const ScratchDir& d, const std::string& prefix, int64_t n, int64_t h, int64_t w, bool gz,
                 uint64_t seed, int64_t nlabels = -1) {
  Generator g(seed);
  Fake f;
  for (int64_t i = 0; i < n * h * w; ++i) f.images.push_back(static_cast<uint8_t>(g.next_u64() % 256));
  for (int64_t i = 0; i < (nlabels < 0 ? n : nlabels); ++i) f.labels.push_back(static_cast<uint8_t>(g.next_u64() % 10));
  std::string sfx = gz ? ".gz" : "";
  write_idx(d.file(prefix + "-images-idx3-ubyte" + sfx), IdxArray{{n, h, w}, f.images}, gz);
  write_idx(d.file(prefix + "-labels-idx1-ubyte" + sfx), IdxArray{{static_cast<int64_t>(f.labels.size())}, f.labels}, gz);
  return f;
}

TEST(DataMnistTest, LoadsGeneratedSplits) {
  ScratchDir d;
  Fake tr = write_split(d, "train", 6, 28, 28, /*gz=*/true, 1);
  Fake te = write_split(d, "t10k", 3, 28, 28, /*gz=*/false, 2);
  FashionMNIST train(d.path(), true), test(d.path(), false);
  ASSERT_EQ(train.size(), 6);
  ASSERT_EQ(test.size(), 3);
  EXPECT_EQ(train.images_path(), d.file("train-images-idx3-ubyte.gz"));
  EXPECT_EQ(test.images_path(), d.file("t10k-images-idx3-ubyte"));
  for (int64_t i = 0; i < 6; ++i) {
    auto item = train.get(i);
    EXPECT_EQ(item.label, tr.labels[i]);
    ASSERT_EQ(item.image.height, 28);
    ASSERT_EQ(item.image.width, 28);
    ASSERT_EQ(item.image.channels, 1);
    EXPECT_EQ(item.image.at(3, 5), tr.images[i * 784 + 3 * 28 + 5]);
    EXPECT_EQ(item.image.pixels, std::vector<uint8_t>(tr.images.begin() + i * 784, tr.images.begin() + (i + 1) * 784));
  }
  EXPECT_EQ(test.get(2).label, te.labels[2]);
  EXPECT_THROW(train.get(6), IndexError);
  EXPECT_THROW(train.get(-1), IndexError);

  Tensor x = train.images_as_float();
  ASSERT_EQ(x.sizes(), (Shape{6, 1, 28, 28}));
  ASSERT_EQ(x.dtype(), Dtype::Float32);
  const float* p = x.data_ptr<float>();
  for (size_t k = 0; k < tr.images.size(); ++k) ASSERT_EQ(p[k], static_cast<float>(tr.images[k]) / 255.0f) << k;
  Tensor y = train.labels();
  ASSERT_EQ(y.sizes(), (Shape{6}));
  ASSERT_EQ(y.dtype(), Dtype::Int64);
  for (int64_t i = 0; i < 6; ++i) EXPECT_EQ(y.data_ptr<int64_t>()[i], tr.labels[i]);
}

TEST(DataMnistTest, OtherImageSizesWork) {
  ScratchDir d;
  Fake f = write_split(d, "train", 4, 5, 7, false, 3);
  FashionMNIST ds(d.path());
  EXPECT_EQ(ds.height(), 5);
  EXPECT_EQ(ds.width(), 7);
  EXPECT_EQ(ds.images_as_float().sizes(), (Shape{4, 1, 5, 7}));
  EXPECT_EQ(ds.get(3).image.at(4, 6), f.images[3 * 35 + 4 * 7 + 6]);
}

TEST(DataMnistTest, MissingFilesSayHowToGetThem) {
  ScratchDir d;
  std::string msg = error_of<IOError>([&] { FashionMNIST(d.path(), true); });
  EXPECT_EQ(msg, "Fashion-MNIST not found in " + d.path() +
                     " (missing train-images-idx3-ubyte.gz): install the Debian package dataset-fashion-mnist "
                     "(apt-get install dataset-fashion-mnist) or pass --data DIR / set ACTLAB_DATA to a directory "
                     "with the MNIST-format files");
  write_split(d, "train", 2, 4, 4, true, 4);
  std::string m2 = error_of<IOError>([&] { FashionMNIST(d.path(), false); });
  EXPECT_NE(m2.find("(missing t10k-images-idx3-ubyte.gz)"), std::string::npos) << m2;
  std::remove(d.file("train-labels-idx1-ubyte.gz").c_str());
  std::string m3 = error_of<IOError>([&] { FashionMNIST(d.path(), true); });
  EXPECT_NE(m3.find("(missing train-labels-idx1-ubyte.gz)"), std::string::npos) << m3;
  std::string m4 = error_of<IOError>([&] { FashionMNIST(d.file("no-such-dir"), true); });
  EXPECT_NE(m4.find("Fashion-MNIST not found in " + d.file("no-such-dir")), std::string::npos) << m4;
}

TEST(DataMnistTest, LabelCountMismatch) {
  ScratchDir d;
  write_split(d, "train", 5, 4, 4, true, 5, /*nlabels=*/4);
  std::string msg = error_of<IOError>([&] { FashionMNIST(d.path(), true); });
  EXPECT_EQ(msg, "label count mismatch: 5 images but 4 labels in " + d.path());
}

TEST(DataMnistTest, LabelOutOfRange) {
  ScratchDir d;
  write_split(d, "train", 3, 4, 4, false, 6);
  write_idx(d.file("train-labels-idx1-ubyte"), IdxArray{{3}, {1, 10, 2}});
  std::string msg = error_of<IOError>([&] { FashionMNIST(d.path(), true); });
  EXPECT_NE(msg.find("label 10 of sample 1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("out of range"), std::string::npos) << msg;
}

TEST(DataMnistTest, WrongRanks) {
  ScratchDir d;
  write_split(d, "train", 3, 4, 4, false, 7);
  write_idx(d.file("train-images-idx3-ubyte"), IdxArray{{3, 16}, std::vector<uint8_t>(48, 1)});
  std::string msg = error_of<IOError>([&] { FashionMNIST(d.path(), true); });
  EXPECT_NE(msg.find("expected images of shape [N, H, W]"), std::string::npos) << msg;
}

TEST(DataMnistTest, DefaultDirFollowsEnvironment) {
  const char* old = std::getenv("ACTLAB_DATA");
  std::string saved = old ? old : "";
  ::setenv("ACTLAB_DATA", "/some/where", 1);
  EXPECT_EQ(default_data_dir(), "/some/where");
  ::setenv("ACTLAB_DATA", "", 1);
  EXPECT_EQ(default_data_dir(), "/usr/share/datasets/fashion-mnist");
  ::unsetenv("ACTLAB_DATA");
  EXPECT_EQ(default_data_dir(), "/usr/share/datasets/fashion-mnist");
  if (old) ::setenv("ACTLAB_DATA", saved.c_str(), 1);
}

TEST(DataMnistTest, RealFashionMnist) {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  struct stat st;
  // The setup script installs the data set; its absence is a failure, not a skip.
  ASSERT_EQ(::stat(dir.c_str(), &st), 0) << dir << " is not installed (apt-get install dataset-fashion-mnist)";
  FashionMNIST train(dir, true), test(dir, false);
  EXPECT_EQ(train.size(), 60000);
  EXPECT_EQ(test.size(), 10000);
  EXPECT_EQ(train.height(), 28);
  EXPECT_EQ(train.width(), 28);
  for (const FashionMNIST* ds : {&train, &test}) {
    std::vector<int64_t> counts(10, 0);
    for (int64_t i = 0; i < ds->size(); ++i) {
      int64_t l = ds->label(i);
      ASSERT_GE(l, 0);
      ASSERT_LT(l, 10);
      ++counts[l];
    }
    // Fashion-MNIST is balanced: 6000 / 1000 of each class.
    for (int64_t c = 0; c < 10; ++c) EXPECT_EQ(counts[c], ds->size() / 10) << "class " << c;
  }
  // Known first samples (torchvision: FashionMNIST(train=True)[0] is an ankle boot, test[0] too).
  EXPECT_EQ(train.get(0).label, 9);
  EXPECT_EQ(test.get(0).label, 9);
  EXPECT_STREQ(FashionMNIST::classes()[9], "Ankle boot");
  // Pixel sums of image 0, computed independently with numpy from the same files.
  auto pixel_sum = [](const U8Image& im) {
    int64_t s = 0;
    for (uint8_t v : im.pixels) s += v;
    return s;
  };
  EXPECT_EQ(pixel_sum(train.get(0).image), 76247);
  EXPECT_EQ(pixel_sum(test.get(0).image), 33456);
}

}  // namespace
}  // namespace actlab::data
