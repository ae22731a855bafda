// Loss functions (torch.nn.functional.*) and modules (torch.nn.*Loss), with PyTorch's defaults, values,
// gradients and error messages. reduction is "mean" (default), "sum" or "none"; anything else is
// ValueError "foo is not a valid value for reduction".
#pragma once

#include <string>

#include "actlab/nn/module.h"

namespace actlab::nn {

struct NLLLossOptions {
  Tensor weight;               // optional per-class weight [C]
  int64_t ignore_index = -100;  // targets equal to it contribute nothing (and are not counted in "mean")
  std::string reduction = "mean";
};
struct CrossEntropyLossOptions {
  Tensor weight;
  int64_t ignore_index = -100;
  std::string reduction = "mean";
  double label_smoothing = 0.0;  // in [0, 1]
};
struct BCELossOptions {
  Tensor weight;  // optional, broadcast to the input
  std::string reduction = "mean";
};
struct BCEWithLogitsLossOptions {
  Tensor weight;      // optional, broadcast to the input
  std::string reduction = "mean";
  Tensor pos_weight;  // optional weight of positive examples, broadcast along the last dim
};
struct MSELossOptions {
  std::string reduction = "mean";
};

namespace functional {

// input: log-probabilities [N, C] (or [C], or [N, C, d1, ...]); target: int64 class indices [N] ([], [N, d1, ...]).
// "mean" divides by the summed weights of the non-ignored targets. Errors: "Target 12 is out of bounds."
// (IndexError), "Expected input batch_size (3) to match target batch_size (4)." (ValueError).
Tensor nll_loss(const Tensor& input, const Tensor& target, const NLLLossOptions& o = {});
// log_softmax over dim 1 followed by nll_loss. target is either int64 class indices, or class
// probabilities of the input's shape (floating). label_smoothing mixes the target with the uniform
// distribution as torch.nn.functional.cross_entropy does.
Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyLossOptions& o = {});
// -w (y log x + (1 - y) log(1 - x)) with each log clamped to >= -100. input must be in [0, 1]
// ("all elements of input should be between 0 and 1") and target of the input's size.
// The gradient flows to input only (target is treated as a constant).
Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const BCELossOptions& o = {});
// The numerically stable sigmoid + BCE: (1 - y) x + (1 + (p - 1) y) (log(1 + exp(-|x|)) + max(-x, 0)).
// The gradient flows to input only.
Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                        const BCEWithLogitsLossOptions& o = {});
// (input - target)^2, broadcasting as PyTorch does.
Tensor mse_loss(const Tensor& input, const Tensor& target, const MSELossOptions& o = {});

}  // namespace functional

// The loss modules. Call them with (input, target); the one-argument Module::forward raises.
class Loss : public Module {
 public:
  virtual Tensor forward(const Tensor& input, const Tensor& target) = 0;
  using Module::operator();
  Tensor operator()(const Tensor& input, const Tensor& target) { return forward(input, target); }
  Tensor forward(const Tensor& input) override;
};

class NLLLoss : public Loss {
 public:
  explicit NLLLoss(NLLLossOptions o = {}) : o_(std::move(o)) {}
  using Loss::forward;
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string type_name() const override { return "NLLLoss"; }
  const NLLLossOptions& options() const { return o_; }

 private:
  NLLLossOptions o_;
};

class CrossEntropyLoss : public Loss {
 public:
  explicit CrossEntropyLoss(CrossEntropyLossOptions o = {});
  using Loss::forward;
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string type_name() const override { return "CrossEntropyLoss"; }
  const CrossEntropyLossOptions& options() const { return o_; }

 private:
  CrossEntropyLossOptions o_;
};

class BCELoss : public Loss {
 public:
  explicit BCELoss(BCELossOptions o = {}) : o_(std::move(o)) {}
  using Loss::forward;
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string type_name() const override { return "BCELoss"; }

 private:
  BCELossOptions o_;
};

class BCEWithLogitsLoss : public Loss {
 public:
  explicit BCEWithLogitsLoss(BCEWithLogitsLossOptions o = {}) : o_(std::move(o)) {}
  using Loss::forward;
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string type_name() const override { return "BCEWithLogitsLoss"; }

 private:
  BCEWithLogitsLossOptions o_;
};

class MSELoss : public Loss {
 public:
  explicit MSELoss(MSELossOptions o = {}) : o_(std::move(o)) {}
  using Loss::forward;
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string type_name() const override { return "MSELoss"; }

 private:
  MSELossOptions o_;
};

}  // namespace actlab::nn
