#include "actlab/data/transforms.h"

#include <cmath>
#include <cstring>

#include "actlab/autograd/grad_mode.h"
#include "actlab/core/error.h"
#include "actlab/core/tensor_impl.h"
#include "actlab/nn/module.h"
#include "actlab/ops/ops.h"

namespace actlab::data::transforms {

namespace {

using detail::concat;

std::string list_str(const std::vector<double>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + nn::format_float(v[i]);
  return s + "]";
}

// Copies n elements of `esize` bytes from src to dst in reverse order.
void reverse_copy(char* dst, const char* src, int64_t n, size_t esize) {
  switch (esize) {
    case 1:
      for (int64_t k = 0; k < n; ++k) dst[k] = src[n - 1 - k];
      break;
    case 4: {
      uint32_t a, b;
      for (int64_t k = 0; k < n; ++k) {
        std::memcpy(&a, src + 4 * (n - 1 - k), 4);
        b = a;
        std::memcpy(dst + 4 * k, &b, 4);
      }
      break;
    }
    default:
      for (int64_t k = 0; k < n; ++k) std::memcpy(dst + esize * k, src + esize * (n - 1 - k), esize);
  }
}

// Flips every row (last dimension) of `rows` rows of length w.
void flip_rows(char* dst, const char* src, int64_t rows, int64_t w, size_t esize) {
  for (int64_t r = 0; r < rows; ++r)
    reverse_copy(dst + static_cast<size_t>(r * w) * esize, src + static_cast<size_t>(r * w) * esize, w, esize);
}

// Crops planes of H x W (zero-padded by p) to h x w at (top, left) in padded coordinates.
void crop_planes(char* dst, const char* src, int64_t planes, int64_t H, int64_t W, int64_t h, int64_t w, int64_t p,
                 int64_t top, int64_t left, size_t esize) {
  // The output columns that come from the image: x in [x0, x1) reads source column left + x - p.
  int64_t x0 = std::max<int64_t>(0, p - left);
  int64_t x1 = std::min<int64_t>(w, W + p - left);
  for (int64_t pl = 0; pl < planes; ++pl) {
    const char* sp = src + static_cast<size_t>(pl * H * W) * esize;
    char* dp = dst + static_cast<size_t>(pl * h * w) * esize;
    for (int64_t y = 0; y < h; ++y) {
      char* drow = dp + static_cast<size_t>(y * w) * esize;
      int64_t sy = top + y - p;
      if (sy < 0 || sy >= H || x1 <= x0) {
        std::memset(drow, 0, static_cast<size_t>(w) * esize);
        continue;
      }
      if (x0 > 0) std::memset(drow, 0, static_cast<size_t>(x0) * esize);
      std::memcpy(drow + static_cast<size_t>(x0) * esize, sp + static_cast<size_t>(sy * W + left + x0 - p) * esize,
                  static_cast<size_t>(x1 - x0) * esize);
      if (x1 < w) std::memset(drow + static_cast<size_t>(x1) * esize, 0, static_cast<size_t>(w - x1) * esize);
    }
  }
}

char* bytes_of(const Tensor& t) { return static_cast<char*>(t.raw_data()); }

void check_image(const Tensor& x, int64_t min_dim, const char* what) {
  if (!x.defined()) throw ValueError(concat(what, ": the input tensor is undefined"));
  if (x.dim() < min_dim)
    throw ValueError(concat(what, ": expected a tensor image of size (..., ", min_dim == 3 ? "C, " : "",
                            "H, W), got tensor.size() = ", shape_str(x.sizes())));
}

void check_batch(const Tensor& b, const char* what) {
  if (!b.defined() || b.dim() < 3)
    throw ValueError(concat(what, ".apply_batch: expected a batch of images [N, C, H, W] or [N, H, W], got ",
                            b.defined() ? shape_str(b.sizes()) : std::string("an undefined tensor")));
}

}  // namespace

// ---- Transform / Compose ------------------------------------------------------------------------------------

Tensor Transform::apply_batch(const Tensor& batch, Generator& gen) const {
  if (!batch.defined() || batch.dim() < 1)
    throw ValueError(concat("apply_batch: expected a batch [N, ...], got ",
                            batch.defined() ? shape_str(batch.sizes()) : std::string("an undefined tensor")));
  NoGradGuard ng;
  if (batch.size(0) == 0) return batch.clone();
  std::vector<Tensor> outs;
  outs.reserve(static_cast<size_t>(batch.size(0)));
  for (int64_t k = 0; k < batch.size(0); ++k) outs.push_back((*this)(batch[k], gen));
  return stack(outs, 0);
}

Tensor Compose::operator()(const Tensor& x, Generator& gen) const {
  Tensor y = x;
  for (const auto& t : transforms_) y = (*t)(y, gen);
  return y;
}

Tensor Compose::apply_batch(const Tensor& batch, Generator& gen) const {
  Tensor y = batch;
  for (const auto& t : transforms_) y = t->apply_batch(y, gen);
  return y;
}

std::string Compose::to_string() const {
  std::string s = "Compose(\n";
  for (const auto& t : transforms_) s += "    " + t->to_string() + "\n";
  return s + ")";
}

// ---- ToTensor ---------------------------------------------------------------------------------------------------

Tensor ToTensor::operator()(const U8Image& im) const {
  if (im.height < 0 || im.width < 0 || im.channels < 1 ||
      static_cast<int64_t>(im.pixels.size()) != im.height * im.width * im.channels)
    throw ValueError(concat("ToTensor: an image of ", im.height, "x", im.width, "x", im.channels, " needs ",
                            im.height * im.width * im.channels, " pixels, got ", im.pixels.size()));
  const int64_t H = im.height, W = im.width, C = im.channels;
  Tensor t = make_tensor({C, H, W}, Dtype::Float32);
  float* p = t.data_ptr<float>();
  for (int64_t c = 0; c < C; ++c)
    for (int64_t i = 0; i < H * W; ++i)
      p[c * H * W + i] = static_cast<float>(im.pixels[static_cast<size_t>(i * C + c)]) / 255.0f;
  return t;
}

Tensor ToTensor::operator()(const Tensor& x, Generator&) const {
  if (!x.defined() || (x.dim() != 2 && x.dim() != 3))
    throw ValueError(concat("pic should be 2/3 dimensional. Got ", x.defined() ? x.dim() : 0, " dimensions."));
  NoGradGuard ng;
  Tensor chw = x.dim() == 2 ? x.unsqueeze(0) : x.permute({2, 0, 1});
  if (x.is_floating_point()) return chw.contiguous().detach().clone();
  Tensor f = chw.to(Dtype::Float32).contiguous().detach();
  float* p = f.data_ptr<float>();
  for (int64_t i = 0; i < f.numel(); ++i) {
    if (!(p[i] >= 0.0f && p[i] <= 255.0f))
      throw ValueError(concat("ToTensor: an integer image must hold values in 0..255 (it stands for uint8), got ",
                              nn::format_float(p[i])));
    p[i] = p[i] / 255.0f;
  }
  return f;
}

// ---- Normalize ----------------------------------------------------------------------------------------------------

Normalize::Normalize(std::vector<double> mean, std::vector<double> std) : mean_(std::move(mean)), std_(std::move(std)) {
  if (mean_.empty() || std_.empty()) throw ValueError("Normalize: mean and std need at least one value each");
  for (size_t i = 0; i < std_.size(); ++i)
    if (std_[i] == 0.0)
      throw ValueError(concat("Normalize: std[", i, "] is 0, which would divide by zero"));
}

Tensor Normalize::operator()(const Tensor& x, Generator&) const {
  check_image(x, 3, "Normalize");
  if (!x.is_floating_point())
    throw ValueError(concat("Input tensor should be a float tensor. Got ", dtype_name(x.dtype()), "."));
  const int64_t C = x.size(-3);
  const int64_t HW = x.size(-1) * x.size(-2);
  for (const auto* v : {&mean_, &std_})
    if (v->size() != 1 && static_cast<int64_t>(v->size()) != C)
      throw ValueError(concat("Normalize: ", v == &mean_ ? "mean" : "std", " has ", v->size(),
                              " values but the tensor has ", C, " channels (size ", shape_str(x.sizes()), ")"));
  NoGradGuard ng;
  Tensor src = x.contiguous();
  Tensor out = make_tensor(x.sizes(), x.dtype());
  const int64_t planes = HW == 0 ? 0 : x.numel() / HW;  // (image, channel) pairs
  auto run = [&](auto tag) {
    using T = decltype(tag);
    std::vector<T> m(static_cast<size_t>(C)), s(static_cast<size_t>(C));
    for (int64_t c = 0; c < C; ++c) {
      m[c] = static_cast<T>(mean_.size() == 1 ? mean_[0] : mean_[c]);
      s[c] = static_cast<T>(std_.size() == 1 ? std_[0] : std_[c]);
      if (s[c] == T(0))
        throw ValueError(concat("std evaluated to zero after conversion to ", dtype_name(x.dtype()),
                                ", leading to division by zero."));
    }
    const T* sp = src.data_ptr<T>();
    T* dp = out.data_ptr<T>();
    for (int64_t pl = 0; pl < planes; ++pl) {
      const int64_t c = pl % C;
      const T mc = m[c], sc = s[c];
      const T* a = sp + pl * HW;
      T* b = dp + pl * HW;
      for (int64_t i = 0; i < HW; ++i) b[i] = (a[i] - mc) / sc;
    }
  };
  if (x.dtype() == Dtype::Float32) run(float{});
  else run(double{});
  return out;
}

Tensor Normalize::apply_batch(const Tensor& batch, Generator& gen) const {
  check_batch(batch, "Normalize");
  return (*this)(batch, gen);
}

std::string Normalize::to_string() const {
  return concat("Normalize(mean=", list_str(mean_), ", std=", list_str(std_), ")");
}

// ---- RandomHorizontalFlip -----------------------------------------------------------------------------------------

RandomHorizontalFlip::RandomHorizontalFlip(double p) : p_(p) {
  if (!(p >= 0.0 && p <= 1.0)) throw ValueError(concat("RandomHorizontalFlip: p should be in [0, 1], got ", p));
}

Tensor RandomHorizontalFlip::operator()(const Tensor& x, Generator& gen) const {
  check_image(x, 2, "RandomHorizontalFlip");
  NoGradGuard ng;
  Tensor src = x.contiguous();
  if (!(gen.next_double() < p_)) return src.is_same(x) ? x.detach().clone() : src.detach();
  Tensor out = make_tensor(x.sizes(), x.dtype());
  const int64_t w = x.size(-1);
  if (w > 0) flip_rows(bytes_of(out), bytes_of(src), x.numel() / w, w, element_size(x.dtype()));
  return out;
}

Tensor RandomHorizontalFlip::apply_batch(const Tensor& batch, Generator& gen) const {
  check_batch(batch, "RandomHorizontalFlip");
  NoGradGuard ng;
  Tensor src = batch.contiguous();
  Tensor out = make_tensor(batch.sizes(), batch.dtype());
  const int64_t n = batch.size(0), w = batch.size(-1);
  const size_t es = element_size(batch.dtype());
  const int64_t per = n == 0 ? 0 : batch.numel() / n;
  for (int64_t k = 0; k < n; ++k) {
    const char* s = bytes_of(src) + static_cast<size_t>(k * per) * es;
    char* d = bytes_of(out) + static_cast<size_t>(k * per) * es;
    if (gen.next_double() < p_ && w > 0) flip_rows(d, s, per / w, w, es);
    else std::memcpy(d, s, static_cast<size_t>(per) * es);
  }
  return out;
}

std::string RandomHorizontalFlip::to_string() const { return "RandomHorizontalFlip(p=" + nn::format_float(p_) + ")"; }

// ---- RandomCrop ---------------------------------------------------------------------------------------------------

RandomCrop::RandomCrop(std::pair<int64_t, int64_t> size, int64_t padding)
    : h_(size.first), w_(size.second), padding_(padding) {
  if (h_ <= 0 || w_ <= 0)
    throw ValueError(concat("RandomCrop: size must be positive, got (", h_, ", ", w_, ")"));
  if (padding_ < 0) throw ValueError(concat("RandomCrop: padding must be non-negative, got ", padding_));
}

Tensor RandomCrop::crop_at(const Tensor& x, int64_t top, int64_t left) const {
  check_image(x, 2, "RandomCrop");
  const int64_t H = x.size(-2), W = x.size(-1);
  const int64_t Hp = H + 2 * padding_, Wp = W + 2 * padding_;
  if (top < 0 || left < 0 || top + h_ > Hp || left + w_ > Wp)
    throw ValueError(concat("RandomCrop: a (", h_, ", ", w_, ") crop at (", top, ", ", left,
                            ") does not fit the padded image size (", Hp, ", ", Wp, ")"));
  NoGradGuard ng;
  Tensor src = x.contiguous();
  Shape os = x.sizes();
  os[os.size() - 2] = h_;
  os[os.size() - 1] = w_;
  Tensor out = make_tensor(os, x.dtype());
  const int64_t planes = H * W == 0 ? 0 : x.numel() / (H * W);
  crop_planes(bytes_of(out), bytes_of(src), planes, H, W, h_, w_, padding_, top, left, element_size(x.dtype()));
  return out;
}

namespace {
// torchvision's RandomCrop.get_params: no draw when the crop is the whole (padded) image.
std::pair<int64_t, int64_t> crop_params(int64_t Hp, int64_t Wp, int64_t h, int64_t w, Generator& gen) {
  if (h > Hp || w > Wp)
    throw ValueError(concat("Required crop size (", h, ", ", w, ") is larger than input image size (", Hp, ", ", Wp,
                            ")"));
  if (Hp == h && Wp == w) return {0, 0};
  int64_t top = static_cast<int64_t>(gen.next_u64() % static_cast<uint64_t>(Hp - h + 1));
  int64_t left = static_cast<int64_t>(gen.next_u64() % static_cast<uint64_t>(Wp - w + 1));
  return {top, left};
}
}  // namespace

Tensor RandomCrop::operator()(const Tensor& x, Generator& gen) const {
  check_image(x, 2, "RandomCrop");
  auto [top, left] = crop_params(x.size(-2) + 2 * padding_, x.size(-1) + 2 * padding_, h_, w_, gen);
  return crop_at(x, top, left);
}

Tensor RandomCrop::apply_batch(const Tensor& batch, Generator& gen) const {
  check_batch(batch, "RandomCrop");
  NoGradGuard ng;
  const int64_t n = batch.size(0), H = batch.size(-2), W = batch.size(-1);
  const int64_t Hp = H + 2 * padding_, Wp = W + 2 * padding_;
  if (h_ > Hp || w_ > Wp)
    throw ValueError(concat("Required crop size (", h_, ", ", w_, ") is larger than input image size (", Hp, ", ",
                            Wp, ")"));
  Tensor src = batch.contiguous();
  Shape os = batch.sizes();
  os[os.size() - 2] = h_;
  os[os.size() - 1] = w_;
  Tensor out = make_tensor(os, batch.dtype());
  const size_t es = element_size(batch.dtype());
  const int64_t planes = (n == 0 || H * W == 0) ? 0 : batch.numel() / (n * H * W);
  for (int64_t k = 0; k < n; ++k) {
    auto [top, left] = crop_params(Hp, Wp, h_, w_, gen);
    crop_planes(bytes_of(out) + static_cast<size_t>(k * planes * h_ * w_) * es,
                bytes_of(src) + static_cast<size_t>(k * planes * H * W) * es, planes, H, W, h_, w_, padding_, top,
                left, es);
  }
  return out;
}

std::string RandomCrop::to_string() const {
  return concat("RandomCrop(size=(", h_, ", ", w_, "), padding=", padding_, ")");
}

}  // namespace actlab::data::transforms
