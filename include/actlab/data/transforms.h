// Image transforms on tensors, as torchvision.transforms: Compose, ToTensor, Normalize, RandomHorizontalFlip,
// RandomCrop. Images are [..., C, H, W] tensors (after ToTensor). Random transforms draw from a Generator the
// caller passes, so a seeded generator gives reproducible augmentation.
//
// Each transform has two entry points:
//  - operator()(x, gen): torchvision's semantics on one image (a leading batch dimension, if any, is treated
//    as torchvision treats it: the whole tensor gets the same flip / the same crop);
//  - apply_batch(x, gen): the fast path for a whole [N, C, H, W] batch, drawing independently per sample
//    (sample k gets exactly what operator() would give it with the draws made for it, in sample order).
// All of them work outside autograd (they are data preparation) and return new tensors.
#pragma once

#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "actlab/core/tensor.h"
#include "actlab/data/mnist.h"

namespace actlab::data::transforms {

class Transform {
 public:
  virtual ~Transform() = default;
  virtual Tensor operator()(const Tensor& x, Generator& gen) const = 0;
  // Uses actlab::default_generator().
  Tensor operator()(const Tensor& x) const { return (*this)(x, default_generator()); }
  // Applies the transform to each sample of a [N, ...] batch independently. The default loops over samples
  // and stacks; Normalize, RandomHorizontalFlip and RandomCrop override it with direct loops.
  virtual Tensor apply_batch(const Tensor& batch, Generator& gen) const;
  // torchvision's repr, e.g. "Normalize(mean=[0.5], std=[0.5])".
  virtual std::string to_string() const = 0;
};

// Applies transforms in order. Compose(ToTensor(), Normalize({0.5}, {0.5})).
class Compose : public Transform {
 public:
  explicit Compose(std::vector<std::shared_ptr<Transform>> transforms) : transforms_(std::move(transforms)) {}
  template <class... Ts>
    requires(sizeof...(Ts) > 0 && (std::is_base_of_v<Transform, std::decay_t<Ts>> && ...))
  explicit Compose(Ts&&... ts) {
    (transforms_.push_back(std::make_shared<std::decay_t<Ts>>(std::forward<Ts>(ts))), ...);
  }
  Tensor operator()(const Tensor& x, Generator& gen) const override;
  using Transform::operator();
  Tensor apply_batch(const Tensor& batch, Generator& gen) const override;
  std::string to_string() const override;  // "Compose(\n    ToTensor()\n    ...\n)"
  const std::vector<std::shared_ptr<Transform>>& transforms() const { return transforms_; }

 private:
  std::vector<std::shared_ptr<Transform>> transforms_;
};

// uint8-valued image [H, W] or [H, W, C] -> float32 [C, H, W] in [0, 1], as torchvision's ToTensor.
// actlab has no uint8 dtype: an Int64 (or Bool) tensor stands for uint8 data and is divided by 255 (values
// must lie in 0..255, else ValueError); a floating tensor is only permuted to CHW, not scaled, as torchvision
// does for float arrays. The U8Image overload is the usual path from a dataset.
class ToTensor : public Transform {
 public:
  Tensor operator()(const U8Image& image) const;
  Tensor operator()(const Tensor& x, Generator& gen) const override;
  using Transform::operator();
  std::string to_string() const override { return "ToTensor()"; }
};

// (x - mean[c]) / std[c] per channel of a float [..., C, H, W] tensor, as torchvision's Normalize. mean/std have
// one value per channel or a single value for all. Throws ValueError on a zero std (torchvision's message), a
// non-float tensor, fewer than 3 dimensions, or a channel-count mismatch.
class Normalize : public Transform {
 public:
  Normalize(std::vector<double> mean, std::vector<double> std);
  Tensor operator()(const Tensor& x, Generator& gen) const override;
  using Transform::operator();
  // Same as operator() (normalization is per channel, so it is already batch-wise); one pass over memory.
  Tensor apply_batch(const Tensor& batch, Generator& gen) const override;
  std::string to_string() const override;
  const std::vector<double>& mean() const { return mean_; }
  const std::vector<double>& std() const { return std_; }

 private:
  std::vector<double> mean_, std_;
};

// Mirrors the last dimension (W) with probability p, as torchvision's RandomHorizontalFlip: one draw
// gen.next_double() < p per call (per sample in apply_batch). ValueError unless 0 <= p <= 1.
class RandomHorizontalFlip : public Transform {
 public:
  explicit RandomHorizontalFlip(double p = 0.5);
  Tensor operator()(const Tensor& x, Generator& gen) const override;
  using Transform::operator();
  Tensor apply_batch(const Tensor& batch, Generator& gen) const override;
  std::string to_string() const override;
  double p() const { return p_; }

 private:
  double p_;
};

// Pads the last two dimensions by `padding` zeros on every side, then cuts a size.first x size.second window
// at a random offset, as torchvision's RandomCrop(size, padding) with fill=0, padding_mode="constant".
// Draw order (per call; per sample in apply_batch): top = gen.next_u64() % (H + 2p - h + 1), then
// left = gen.next_u64() % (W + 2p - w + 1). ValueError when the crop is larger than the padded image
// ("Required crop size (h, w) is larger than input image size (H, W)").
class RandomCrop : public Transform {
 public:
  explicit RandomCrop(int64_t size, int64_t padding = 0) : RandomCrop({size, size}, padding) {}
  RandomCrop(std::pair<int64_t, int64_t> size, int64_t padding = 0);
  Tensor operator()(const Tensor& x, Generator& gen) const override;
  using Transform::operator();
  Tensor apply_batch(const Tensor& batch, Generator& gen) const override;
  std::string to_string() const override;

  // The crop at a given offset into the padded image (what operator() does after its draws).
  Tensor crop_at(const Tensor& x, int64_t top, int64_t left) const;

 private:
  int64_t h_, w_, padding_;
};

}  // namespace actlab::data::transforms
