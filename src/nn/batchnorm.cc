// nn::BatchNorm1d / BatchNorm2d: PyTorch's _BatchNorm.forward (num_batches_tracked, cumulative average
// when momentum is None, batch stats in eval when track_running_stats = false) over functional::batch_norm.
#include "actlab/autograd/grad_mode.h"
#include "actlab/autograd/node.h"
#include "actlab/nn/layers.h"

namespace actlab::nn {

BatchNormBase::BatchNormBase(int64_t num_features, BatchNormOptions options)
    : num_features_(num_features), opt_(options) {
  if (num_features < 0)
    throw ValueError(detail::concat("num_features must be non-negative, got ", num_features));
  if (opt_.affine) {
    weight_ = register_parameter("weight", ones({num_features}));
    bias_ = register_parameter("bias", zeros({num_features}));
  } else {
    register_parameter("weight", Tensor(), false);
    register_parameter("bias", Tensor(), false);
  }
  if (opt_.track_running_stats) {
    running_mean_ = register_buffer("running_mean", zeros({num_features}));
    running_var_ = register_buffer("running_var", ones({num_features}));
    num_batches_tracked_ = register_buffer("num_batches_tracked", zeros({}, {kInt64}));
  } else {
    register_buffer("running_mean", Tensor());
    register_buffer("running_var", Tensor());
    register_buffer("num_batches_tracked", Tensor());
  }
}

void BatchNormBase::reset_running_stats() {
  if (!opt_.track_running_stats) return;
  NoGradGuard ng;
  running_mean_.zero_();
  running_var_.fill_(1.0);
  num_batches_tracked_.zero_();
}

void BatchNormBase::reset_parameters() {
  reset_running_stats();
  if (!opt_.affine) return;
  NoGradGuard ng;
  weight_.fill_(1.0);
  bias_.zero_();
}

Tensor BatchNormBase::forward(const Tensor& input) { return run(input, false); }

Tensor BatchNormBase::forward_relu(const Tensor& input) { return run(input, true); }

Tensor BatchNormBase::run(const Tensor& input, bool relu) {
  check_input_dim(input);
  double factor = opt_.momentum.value_or(0.0);
  if (is_training() && opt_.track_running_stats) {
    num_batches_tracked_.data_ptr<int64_t>()[0] += 1;
    autograd::bump_version(num_batches_tracked_);
    if (!opt_.momentum) factor = 1.0 / static_cast<double>(num_batches_tracked_.data_ptr<int64_t>()[0]);
  }
  const bool bn_training = is_training() || !opt_.track_running_stats;
  const bool pass_stats = !is_training() || opt_.track_running_stats;
  return (relu ? functional::batch_norm_relu : functional::batch_norm)(
      input, pass_stats ? running_mean_ : Tensor(), pass_stats ? running_var_ : Tensor(), weight_, bias_,
      bn_training, factor, opt_.eps, is_training() ? sync_group_.get() : nullptr);
}

std::string BatchNormBase::extra_repr() const {
  return detail::concat(num_features_, ", eps=", format_float(opt_.eps),
                        ", momentum=", opt_.momentum ? format_float(*opt_.momentum) : std::string("None"),
                        ", affine=", opt_.affine ? "True" : "False",
                        ", track_running_stats=", opt_.track_running_stats ? "True" : "False");
}

void BatchNorm1d::check_input_dim(const Tensor& input) const {
  if (input.dim() != 2 && input.dim() != 3)
    throw ValueError(detail::concat("expected 2D or 3D input (got ", input.dim(), "D input)"));
}

void BatchNorm2d::check_input_dim(const Tensor& input) const {
  if (input.dim() != 4) throw ValueError(detail::concat("expected 4D input (got ", input.dim(), "D input)"));
}

}  // namespace actlab::nn
