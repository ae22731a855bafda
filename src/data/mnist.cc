#include "actlab/data/mnist.h"
#include "core/parallel.h"

#include <sys/stat.h>

#include <cstdlib>
#include <cstring>

#include "actlab/core/error.h"
#include "actlab/core/tensor_impl.h"
#include "actlab/data/idx.h"

namespace actlab::data {

namespace {

using detail::concat;

bool is_regular_file(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string join(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  return dir.back() == '/' ? dir + name : dir + "/" + name;
}

// The plain file if present, else the .gz one; a clear IOError saying how to get the data otherwise.
std::string find_file(const std::string& root, const std::string& base) {
  std::string plain = join(root, base);
  if (is_regular_file(plain)) return plain;
  std::string gz = plain + ".gz";
  if (is_regular_file(gz)) return gz;
  throw IOError(concat("Fashion-MNIST not found in ", root, " (missing ", base,
                       ".gz): install the Debian package dataset-fashion-mnist (apt-get install "
                       "dataset-fashion-mnist) or pass --data DIR / set ACTLAB_DATA to a directory with the "
                       "MNIST-format files"));
}

}  // namespace

std::string default_data_dir() {
  const char* env = std::getenv("ACTLAB_DATA");
  if (env != nullptr && env[0] != '\0') return env;
  return "/usr/share/datasets/fashion-mnist";
}

const std::array<const char*, 10>& FashionMNIST::classes() {
  static const std::array<const char*, 10> names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return names;
}

FashionMNIST::FashionMNIST(std::string root, bool train) : root_(std::move(root)), train_(train) {
  const std::string prefix = train ? "train" : "t10k";
  images_path_ = find_file(root_, prefix + "-images-idx3-ubyte");
  labels_path_ = find_file(root_, prefix + "-labels-idx1-ubyte");
  IdxArray images = read_idx(images_path_);
  if (images.dims.size() != 3)
    throw IOError(concat("expected images of shape [N, H, W] in ", images_path_, ", got ", images.dims.size(),
                         " dimensions"));
  IdxArray labels = read_idx(labels_path_);
  if (labels.dims.size() != 1)
    throw IOError(concat("expected labels of shape [N] in ", labels_path_, ", got ", labels.dims.size(),
                         " dimensions"));
  if (labels.dims[0] != images.dims[0])
    throw IOError(concat("label count mismatch: ", images.dims[0], " images but ", labels.dims[0], " labels in ",
                         root_));
  for (size_t i = 0; i < labels.data.size(); ++i)
    if (labels.data[i] >= kNumClasses)
      throw IOError(concat("label ", int{labels.data[i]}, " of sample ", i, " in ", labels_path_,
                           " is out of range (expected 0 to ", kNumClasses - 1, ")"));
  n_ = images.dims[0];
  h_ = images.dims[1];
  w_ = images.dims[2];
  images_ = std::move(images.data);
  labels_ = std::move(labels.data);
}

int64_t FashionMNIST::label(int64_t i) const {
  if (i < 0 || i >= n_) throw IndexError(concat("index ", i, " is out of range for a dataset of size ", n_));
  return labels_[static_cast<size_t>(i)];
}

FashionMNIST::Item FashionMNIST::get(int64_t i) const {
  Item item{U8Image{h_, w_, 1, {}}, label(i)};
  const size_t per = static_cast<size_t>(h_ * w_);
  auto first = images_.begin() + static_cast<std::ptrdiff_t>(per * static_cast<size_t>(i));
  item.image.pixels.assign(first, first + static_cast<std::ptrdiff_t>(per));
  return item;
}

Tensor FashionMNIST::images_as_float() const {
  Tensor t = make_tensor({n_, 1, h_, w_}, Dtype::Float32);
  float* p = t.data_ptr<float>();
  const size_t total = images_.size();
  // A table of v / 255 (a division, not a multiplication by 1/255) so every value equals torchvision's
  // ToTensor exactly.
  float lut[256];
  for (int v = 0; v < 256; ++v) lut[v] = static_cast<float>(v) / 255.0f;
  const uint8_t* src = images_.data();
  detail::parallel_blocks(static_cast<int64_t>(total), total > (1 << 20), [&](int64_t b, int64_t e, int) {
    for (int64_t k = b; k < e; ++k) p[k] = lut[src[k]];
  });
  return t;
}

Tensor FashionMNIST::labels() const {
  Tensor t = make_tensor({n_}, Dtype::Int64);
  int64_t* p = t.data_ptr<int64_t>();
  for (int64_t i = 0; i < n_; ++i) p[i] = labels_[static_cast<size_t>(i)];
  return t;
}

}  // namespace actlab::data
