// Fashion-MNIST (and any data set in the MNIST IDX layout), as torchvision.datasets.FashionMNIST.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "actlab/core/tensor.h"

namespace actlab::data {

// An 8-bit image, height x width x channels, row-major HWC (actlab tensors have no uint8 dtype, so raw
// images travel in this form until ToTensor turns them into float CHW tensors).
struct U8Image {
  int64_t height = 0;
  int64_t width = 0;
  int64_t channels = 1;
  std::vector<uint8_t> pixels;  // height * width * channels bytes
  uint8_t at(int64_t y, int64_t x, int64_t c = 0) const { return pixels[static_cast<size_t>((y * width + x) * channels + c)]; }
};

// Where data sets are looked for by default: $ACTLAB_DATA when set and non-empty, else
// /usr/share/datasets/fashion-mnist (where the Debian package dataset-fashion-mnist installs it).
std::string default_data_dir();

// One MNIST-format split read fully into memory. `root` holds train-images-idx3-ubyte and
// train-labels-idx1-ubyte (train=true) or t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (train=false),
// each either plain or with a .gz suffix (the plain name is tried first).
//
// Throws IOError: a missing file ("Fashion-MNIST not found in DIR (missing train-images-idx3-ubyte.gz): install
// the Debian package dataset-fashion-mnist ..."), any read_idx error, images that are not [N, H, W] or labels
// that are not [N], "label count mismatch: 60000 images but 59999 labels in DIR", or a label >= 10.
class FashionMNIST {
 public:
  static constexpr int64_t kNumClasses = 10;
  // torchvision's FashionMNIST.classes.
  static const std::array<const char*, 10>& classes();

  explicit FashionMNIST(std::string root = default_data_dir(), bool train = true);

  int64_t size() const { return n_; }
  int64_t height() const { return h_; }
  int64_t width() const { return w_; }
  bool train() const { return train_; }
  const std::string& root() const { return root_; }
  const std::string& images_path() const { return images_path_; }
  const std::string& labels_path() const { return labels_path_; }

  struct Item {
    U8Image image;  // height x width x 1
    int64_t label;
  };
  // Sample i (0 <= i < size(), else IndexError), as dataset[i] in torchvision (before any transform).
  Item get(int64_t i) const;
  int64_t label(int64_t i) const;

  // Every image as one float32 tensor [N, 1, H, W] with values in [0, 1] (ToTensor applied to all of them).
  Tensor images_as_float() const;
  // Every label as an int64 tensor [N].
  Tensor labels() const;
  // The raw pixels, N * H * W bytes, image after image.
  const std::vector<uint8_t>& raw_images() const { return images_; }
  const std::vector<uint8_t>& raw_labels() const { return labels_; }

 private:
  std::string root_;
  bool train_;
  std::string images_path_, labels_path_;
  int64_t n_ = 0, h_ = 0, w_ = 0;
  std::vector<uint8_t> images_;
  std::vector<uint8_t> labels_;
};

}  // namespace actlab::data
