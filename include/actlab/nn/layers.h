// torch.nn's compute layers as modules: Conv2d, BatchNorm1d/2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d,
// Linear, Flatten, Dropout. Names, defaults, parameter/buffer names, initialization and printing follow
// PyTorch 1.13:
//
//   nn::Conv2d(3, 16, 3, {.padding = 1})   // Conv2d(3, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
//   nn::BatchNorm2d(16)                    // BatchNorm2d(16, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)
//   nn::MaxPool2d(2)                       // MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)
//   nn::AdaptiveAvgPool2d(1)               // AdaptiveAvgPool2d(output_size=1)
//   nn::Linear(32, 10)                     // Linear(in_features=32, out_features=10, bias=True)
//
// Weights and biases are drawn from the global generator (actlab::default_generator(), seeded by
// actlab::manual_seed) with PyTorch's default rule: kaiming_uniform_(a=sqrt(5)), i.e. U(-b, b) with
// b = 1/sqrt(fan_in), for weights, and U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for biases.
// The functional forms are in functional_layers.h.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "actlab/nn/functional_layers.h"
#include "actlab/nn/module.h"

namespace actlab::nn {

// ---- Conv2d ------------------------------------------------------------------------------------------------
struct Conv2dOptions {
  Size2 stride = 1;
  Conv2dPadding padding = 0;  // int, pair, "same" or "valid"
  Size2 dilation = 1;
  int64_t groups = 1;
  bool bias = true;
  // "zeros", "reflect", "replicate" or "circular" (the non-zero modes pad explicitly before the convolution).
  std::string padding_mode = "zeros";
};

// 2-D convolution over [N, C, H, W] (or unbatched [C, H, W]) input. Parameters "weight"
// [out, in/groups, kh, kw] and "bias" [out] (absent when bias = false). Constructor errors are PyTorch's
// ValueErrors ("in_channels must be divisible by groups", "Invalid padding string 'x', ...").
class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, Size2 kernel_size, Conv2dOptions options = {});
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Conv2d"; }
  std::string extra_repr() const override;
  // Re-draws weight and bias with PyTorch's default rule (from the global generator).
  void reset_parameters();

  Tensor& weight() { return weight_; }
  Tensor& bias() { return bias_; }  // undefined when bias = false
  int64_t in_channels() const { return in_; }
  int64_t out_channels() const { return out_; }
  Size2 kernel_size() const { return kernel_; }
  const Conv2dOptions& options() const { return opt_; }

 private:
  int64_t in_, out_;
  Size2 kernel_;
  Conv2dOptions opt_;
  Tensor weight_, bias_;
};

// ---- BatchNorm -----------------------------------------------------------------------------------------------
struct BatchNormOptions {
  double eps = 1e-5;
  // nullopt: cumulative moving average (PyTorch's momentum=None), factor 1/num_batches_tracked.
  std::optional<double> momentum = 0.1;
  bool affine = true;               // learnable "weight" (ones) and "bias" (zeros)
  bool track_running_stats = true;  // buffers "running_mean", "running_var", "num_batches_tracked" (int64)
};

// Shared by BatchNorm1d and BatchNorm2d (PyTorch's _BatchNorm). Training normalizes with the batch mean
// and biased variance and updates the running stats with the unbiased variance; eval uses the running
// stats (or batch stats when track_running_stats = false).
class BatchNormBase : public Module {
 public:
  BatchNormBase(int64_t num_features, BatchNormOptions options);
  Tensor forward(const Tensor& input) override;
  // relu(forward(input)) in one pass (functional::batch_norm_relu), with forward's effects on the running
  // statistics; what nn::Sequential runs for a BatchNorm followed by a ReLU when neither has hooks.
  Tensor forward_relu(const Tensor& input);
  std::string extra_repr() const override;
  // running_mean = 0, running_var = 1, num_batches_tracked = 0.
  void reset_running_stats();
  // reset_running_stats() and weight = 1, bias = 0.
  void reset_parameters();

  Tensor& weight() { return weight_; }
  Tensor& bias() { return bias_; }
  Tensor& running_mean() { return running_mean_; }
  Tensor& running_var() { return running_var_; }
  Tensor& num_batches_tracked() { return num_batches_tracked_; }
  int64_t num_features() const { return num_features_; }
  const BatchNormOptions& options() const { return opt_; }
  // Synchronize the batch statistics over this group's ranks in training (SyncBatchNorm); null: this rank's own.
  void set_sync_group(std::shared_ptr<dist::ProcessGroup> group) { sync_group_ = std::move(group); }

 protected:
  virtual void check_input_dim(const Tensor& input) const = 0;

 private:
  Tensor run(const Tensor& input, bool relu);
  int64_t num_features_;
  BatchNormOptions opt_;
  Tensor weight_, bias_, running_mean_, running_var_, num_batches_tracked_;
  std::shared_ptr<dist::ProcessGroup> sync_group_;
};

// Input [N, C] or [N, C, L].
class BatchNorm1d : public BatchNormBase {
 public:
  explicit BatchNorm1d(int64_t num_features, BatchNormOptions options = {}) : BatchNormBase(num_features, options) {}
  std::string type_name() const override { return "BatchNorm1d"; }

 protected:
  void check_input_dim(const Tensor& input) const override;
};

// Input [N, C, H, W].
class BatchNorm2d : public BatchNormBase {
 public:
  explicit BatchNorm2d(int64_t num_features, BatchNormOptions options = {}) : BatchNormBase(num_features, options) {}
  std::string type_name() const override { return "BatchNorm2d"; }

 protected:
  void check_input_dim(const Tensor& input) const override;
};

// ---- pooling -------------------------------------------------------------------------------------------------
struct MaxPool2dOptions {
  std::optional<Size2> stride;  // nullopt: kernel_size
  Size2 padding = 0;
  Size2 dilation = 1;
  bool ceil_mode = false;
};

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(Size2 kernel_size, MaxPool2dOptions options = {});
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "MaxPool2d"; }
  std::string extra_repr() const override;

 private:
  Size2 kernel_;
  MaxPool2dOptions opt_;
};

struct AvgPool2dOptions {
  std::optional<Size2> stride;  // nullopt: kernel_size
  Size2 padding = 0;
  bool ceil_mode = false;
  bool count_include_pad = true;
  std::optional<int64_t> divisor_override;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(Size2 kernel_size, AvgPool2dOptions options = {});
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "AvgPool2d"; }
  std::string extra_repr() const override;

 private:
  Size2 kernel_;
  AvgPool2dOptions opt_;
};

// Output [.., out_h, out_w] whatever the input size: AdaptiveAvgPool2d(1), AdaptiveAvgPool2d({2, 3}).
// std::nullopt keeps the input's size in that dim (PyTorch's None): AdaptiveAvgPool2d(std::nullopt, 3).
class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(Size2 output_size);
  AdaptiveAvgPool2d(std::nullopt_t, int64_t out_w) : AdaptiveAvgPool2d(std::nullopt, std::optional<int64_t>(out_w), 0) {}
  AdaptiveAvgPool2d(int64_t out_h, std::nullopt_t) : AdaptiveAvgPool2d(std::optional<int64_t>(out_h), std::nullopt, 0) {}
  AdaptiveAvgPool2d(std::nullopt_t, std::nullopt_t) : AdaptiveAvgPool2d(std::nullopt, std::nullopt, 0) {}
  // Either size may be nullopt.
  static AdaptiveAvgPool2d with_sizes(std::optional<int64_t> out_h, std::optional<int64_t> out_w) {
    return AdaptiveAvgPool2d(out_h, out_w, 0);
  }
  Tensor forward(const Tensor& input) override;
  // forward(relu(input)) in one pass (functional::relu_adaptive_avg_pool2d); what nn::Sequential runs for a ReLU
  // followed by an AdaptiveAvgPool2d when neither has hooks.
  Tensor forward_after_relu(const Tensor& input);
  std::string type_name() const override { return "AdaptiveAvgPool2d"; }
  std::string extra_repr() const override;

 private:
  AdaptiveAvgPool2d(std::optional<int64_t> out_h, std::optional<int64_t> out_w, int);
  std::optional<int64_t> h_, w_;
  bool scalar_;
};

// ---- Linear, Flatten, Dropout -----------------------------------------------------------------------------------
// y = x W^T + b over the last dim. Parameters "weight" [out, in], "bias" [out].
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true);
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Linear"; }
  std::string extra_repr() const override;
  void reset_parameters();

  Tensor& weight() { return weight_; }
  Tensor& bias() { return bias_; }
  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }

 private:
  int64_t in_, out_;
  Tensor weight_, bias_;
};

// Flattens dims start_dim..end_dim into one (a view when possible).
class Flatten : public Module {
 public:
  explicit Flatten(int64_t start_dim = 1, int64_t end_dim = -1) : start_(start_dim), end_(end_dim) {}
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Flatten"; }
  std::string extra_repr() const override;

 private:
  int64_t start_, end_;
};

// Training: zeroes elements with probability p (global generator) and scales the rest by 1/(1-p);
// eval: identity. p outside [0, 1] is a ValueError at construction.
class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5, bool inplace = false);
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Dropout"; }
  std::string extra_repr() const override;
  double p() const { return p_; }

 private:
  double p_;
  bool inplace_;
};

}  // namespace actlab::nn
