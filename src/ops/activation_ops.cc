// The activations as differentiable ops: forward through the kernels, backward through the kernels,
// saving the input or the output as the activation table says.
#include <cmath>

#include "actlab/autograd/grad_mode.h"
#include "actlab/nn/functional.h"
#include "actlab/ops/ops.h"
#include "kernels/activation_kernels.h"
#include "ops/elementwise_impl.h"

namespace actlab::nn::functional {

using kernels::ActId;
using kernels::ParamValues;

namespace {

// PyTorch's grad_fn names (composite ops keep the name of their last op).
std::string backward_name(ActId id, bool inplace) {
  switch (id) {
    case ActId::ReLU: return "ReluBackward0";
    case ActId::LeakyReLU: return inplace ? "LeakyReluBackward1" : "LeakyReluBackward0";
    case ActId::Sigmoid: return "SigmoidBackward0";
    case ActId::Tanh: return "TanhBackward0";
    case ActId::ELU:
    case ActId::SELU:
    case ActId::CELU: return inplace ? "EluBackward1" : "EluBackward0";
    case ActId::GELU: return "GeluBackward0";
    case ActId::SiLU: return "SiluBackward0";
    case ActId::Mish: return "MishBackward0";
    case ActId::Softplus: return "SoftplusBackward0";
    case ActId::Softsign: return "DivBackward0";
    case ActId::Softshrink: return "SoftshrinkBackward0";
    case ActId::Hardshrink: return "HardshrinkBackward0";
    case ActId::Tanhshrink: return "SubBackward0";
    case ActId::Hardtanh:
    case ActId::ReLU6: return inplace ? "HardtanhBackward1" : "HardtanhBackward0";
    case ActId::Hardsigmoid: return "HardsigmoidBackward0";
    case ActId::Hardswish: return "HardswishBackward0";
    case ActId::LogSigmoid: return "LogSigmoidBackward0";
    case ActId::Threshold: return inplace ? "ThresholdBackward1" : "ThresholdBackward0";
    case ActId::Softmax: return "SoftmaxBackward0";
    case ActId::LogSoftmax: return "LogSoftmaxBackward0";
    case ActId::Softmin: return "SoftminBackward0";
    case ActId::Softmax2d: return "SoftmaxBackward0";
    case ActId::PReLU: return "PreluBackward0";
    case ActId::RReLU: return "RreluWithNoiseBackward0";
    case ActId::GLU: return "GluBackward0";
  }
  return "ActivationBackward0";
}

void check_floating(const Tensor& x, ActId id) {
  if (!is_floating(x.dtype()))
    throw Error(detail::concat("\"", kernels::activation_row(id).name, "\" not implemented for '",
                               x.dtype() == Dtype::Int64 ? "Long" : "Bool", "'"));
}

void run_forward(ActId id, const ParamValues& p, const Tensor& in, const Tensor& out) {
  dispatch_floating(in.dtype(), "activation", [&](auto tag) {
    using T = decltype(tag);
    kernels::act_forward(id, p, reinterpret_cast<const T*>(in.raw_data()), reinterpret_cast<T*>(out.raw_data()),
                         in.numel());
  });
}

class PointwiseBackward : public autograd::Node {
 public:
  PointwiseBackward(ActId id, const ParamValues& p, bool saved_is_output, bool inplace)
      : id_(id), p_(p), saved_is_output_(saved_is_output), inplace_(inplace) {}
  void save(const Tensor& t, bool is_output) { saved_ = autograd::SavedVariable(t, is_output); }
  // The input kept beside a buffer only for the version check (PyTorch's LogSigmoid saves self and buffer, so
  // backward after an in-place change of the input fails there too); its values are not read.
  void guard_input(const Tensor& x) { guard_ = autograd::SavedVariable(x, false); }
  std::string name() const override { return backward_name(id_, inplace_); }
  void release_variables() override {
    saved_.reset();
    guard_.reset();
  }

  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override {
    if (!grads[0].defined()) return {Tensor()};
    if (saved_is_output_) {
      // PyTorch cannot recover the input from an in-place output when the negative branch flipped sign.
      if (id_ == ActId::LeakyReLU && p_[0] < 0)
        throw Error(
            "In-place leakyReLu backward calculation is triggered with a negative slope which is not supported. "
            "This is caused by calling in-place forward function with a negative slope, please call out-of-place "
            "version instead. File an issue at https://github.com/pytorch/pytorch if you do require supporting "
            "in-place leakRelu backward calculation with negative slope");
      if ((id_ == ActId::ELU || id_ == ActId::CELU) && p_[0] < 0)
        throw Error(
            "In-place elu backward calculation is triggered with a negative slope which is not supported. This is "
            "caused by calling in-place forward function with a negative slope, please call out-of-place version "
            "instead.");
    }
    if (guard_.defined()) (void)guard_.unpack(this);
    Tensor s = saved_.unpack(this).contiguous();
    Tensor g = grads[0].contiguous();
    if (g.dtype() != s.dtype()) g = g.to(s.dtype());
    Tensor gx = make_tensor(s.sizes(), s.dtype());
    dispatch_floating(s.dtype(), "activation backward", [&](auto tag) {
      using T = decltype(tag);
      kernels::act_backward(id_, p_, saved_is_output_, reinterpret_cast<const T*>(g.raw_data()),
                            reinterpret_cast<const T*>(s.raw_data()), reinterpret_cast<T*>(gx.raw_data()), s.numel());
    });
    return {gx};
  }

 private:
  ActId id_;
  ParamValues p_;
  bool saved_is_output_;
  bool inplace_;
  autograd::SavedVariable saved_;
  autograd::SavedVariable guard_;
};

}  // namespace

Tensor pointwise_activation(ActId id, const ParamValues& p, const Tensor& x, bool inplace) {
  const auto& row = kernels::activation_row(id);
  if (!kernels::is_pointwise(id)) throw Error(detail::concat(row.name, " is not a pointwise activation"));
  check_floating(x, id);
  bool record = autograd::compute_requires_grad({&x});
  if (!inplace) {
    Tensor xc = x.contiguous();
    Tensor out = make_tensor(x.sizes(), x.dtype());
    // A Buffer row keeps what its backward reads (Tanhshrink tanh(x), LogSigmoid its derivative) when recording.
    const bool keep_buffer = record && row.saves == kernels::Saves::Buffer;
    Tensor buf;
    if (keep_buffer) {
      buf = make_tensor(x.sizes(), x.dtype());
      dispatch_floating(x.dtype(), "activation", [&](auto tag) {
        using T = decltype(tag);
        kernels::forward_with_buffer(id, reinterpret_cast<const T*>(xc.raw_data()), reinterpret_cast<T*>(out.raw_data()),
                                     reinterpret_cast<T*>(buf.raw_data()), x.numel());
      });
    } else {
      run_forward(id, p, xc, out);
    }
    if (record) {
      bool from_output = row.saves == kernels::Saves::Output;
      auto node = std::make_shared<PointwiseBackward>(id, p, from_output || keep_buffer, false);
      autograd::set_next_edges(*node, {&x});
      node->save(keep_buffer ? buf : from_output ? out : x, from_output);
      if (keep_buffer && kernels::buffer_guards_input(id)) node->guard_input(x);
      autograd::set_history(out, node);
    }
    return out;
  }
  if (row.inplace_saves == kernels::InplaceSaves::NotSupported)
    throw Error(detail::concat(row.name, " has no in-place variant"));
  autograd::check_inplace(x);
  Tensor saved_input;
  if (record && row.inplace_saves == kernels::InplaceSaves::InputCopy) {
    NoGradGuard ng;
    saved_input = x.clone();
  }
  std::shared_ptr<PointwiseBackward> node;
  if (record) {
    node = std::make_shared<PointwiseBackward>(id, p, row.inplace_saves == kernels::InplaceSaves::Output, true);
    autograd::set_next_edges(*node, {&x});
  }
  if (x.is_contiguous()) {
    run_forward(id, p, x, x);
    autograd::bump_version(x);
  } else {
    // Strided: compute on a contiguous copy and write back; copy_ bumps the version once.
    Tensor tmp = x.contiguous().detach().clone();
    run_forward(id, p, tmp, tmp);
    NoGradGuard ng;
    Tensor(x).copy_(tmp);
  }
  Tensor xm = x;
  if (record) {
    if (saved_input.defined())
      node->save(saved_input, false);
    else
      node->save(x, true);
    autograd::rebase_history(xm, node);
  }
  return x;
}

namespace {
Tensor act(ActId id, std::initializer_list<double> values, const Tensor& x, bool inplace) {
  ParamValues p{};
  size_t i = 0;
  for (double v : values) p[i++] = v;
  return pointwise_activation(id, p, x, inplace);
}
}  // namespace

Tensor relu(const Tensor& x, bool inplace) { return act(ActId::ReLU, {}, x, inplace); }
Tensor& relu_(Tensor& x) { act(ActId::ReLU, {}, x, true); return x; }
Tensor leaky_relu(const Tensor& x, double s, bool inplace) { return act(ActId::LeakyReLU, {s}, x, inplace); }
Tensor& leaky_relu_(Tensor& x, double s) { act(ActId::LeakyReLU, {s}, x, true); return x; }
Tensor sigmoid(const Tensor& x) { return act(ActId::Sigmoid, {}, x, false); }
Tensor& sigmoid_(Tensor& x) { act(ActId::Sigmoid, {}, x, true); return x; }
Tensor tanh(const Tensor& x) { return act(ActId::Tanh, {}, x, false); }
Tensor& tanh_(Tensor& x) { act(ActId::Tanh, {}, x, true); return x; }
Tensor elu(const Tensor& x, double alpha, bool inplace) { return act(ActId::ELU, {alpha}, x, inplace); }
Tensor& elu_(Tensor& x, double alpha) { act(ActId::ELU, {alpha}, x, true); return x; }
Tensor selu(const Tensor& x, bool inplace) { return act(ActId::SELU, {}, x, inplace); }
Tensor& selu_(Tensor& x) { act(ActId::SELU, {}, x, true); return x; }
Tensor celu(const Tensor& x, double alpha, bool inplace) {
  if (alpha == 0) throw Error("ZeroDivisionError: alpha cannot be 0 for CELU");
  return act(ActId::CELU, {alpha}, x, inplace);
}
Tensor& celu_(Tensor& x, double alpha) { celu(x, alpha, true); return x; }
Tensor gelu(const Tensor& x, const std::string& approximate) {
  if (approximate != "none" && approximate != "tanh")
    throw Error(detail::concat("approximate argument must be either none or tanh, got '", approximate, "'"));
  return act(ActId::GELU, {approximate == "tanh" ? 1.0 : 0.0}, x, false);
}
Tensor silu(const Tensor& x, bool inplace) { return act(ActId::SiLU, {}, x, inplace); }
Tensor mish(const Tensor& x, bool inplace) { return act(ActId::Mish, {}, x, inplace); }
Tensor softplus(const Tensor& x, double beta, double threshold) { return act(ActId::Softplus, {beta, threshold}, x, false); }
Tensor softsign(const Tensor& x) { return act(ActId::Softsign, {}, x, false); }
Tensor softshrink(const Tensor& x, double lambd) {
  if (lambd < 0)
    throw Error(detail::concat("lambda must be greater or equal to 0, but found to be ", lambd, "."));
  return act(ActId::Softshrink, {lambd}, x, false);
}
Tensor hardshrink(const Tensor& x, double lambd) { return act(ActId::Hardshrink, {lambd}, x, false); }
Tensor tanhshrink(const Tensor& x) { return act(ActId::Tanhshrink, {}, x, false); }
Tensor hardtanh(const Tensor& x, double lo, double hi, bool inplace) {
  if (lo > hi) throw Error("min_val cannot be greater than max_val");
  return act(ActId::Hardtanh, {lo, hi}, x, inplace);
}
Tensor& hardtanh_(Tensor& x, double lo, double hi) { hardtanh(x, lo, hi, true); return x; }
Tensor relu6(const Tensor& x, bool inplace) { return act(ActId::ReLU6, {}, x, inplace); }
Tensor hardsigmoid(const Tensor& x, bool inplace) { return act(ActId::Hardsigmoid, {}, x, inplace); }
Tensor hardswish(const Tensor& x, bool inplace) { return act(ActId::Hardswish, {}, x, inplace); }
Tensor logsigmoid(const Tensor& x) { return act(ActId::LogSigmoid, {}, x, false); }
Tensor threshold(const Tensor& x, double th, double value, bool inplace) {
  return act(ActId::Threshold, {th, value}, x, inplace);
}
Tensor& threshold_(Tensor& x, double th, double value) { act(ActId::Threshold, {th, value}, x, true); return x; }

// ---- softmax family --------------------------------------------------------------------------------------
namespace {

int64_t implicit_softmax_dim(int64_t ndim) { return (ndim == 0 || ndim == 1 || ndim == 3) ? 0 : 1; }

void dim_blocks(const Shape& s, int64_t d, int64_t& outer, int64_t& n, int64_t& inner) {
  outer = 1;
  inner = 1;
  n = s.empty() ? 1 : s[d];
  for (int64_t i = 0; i < d; ++i) outer *= s[i];
  for (size_t i = static_cast<size_t>(d) + 1; i < s.size(); ++i) inner *= s[i];
}

Tensor softmax_impl(ActId id, kernels::SoftmaxKind kind, const Tensor& x, int64_t dim) {
  check_floating(x, id);
  int64_t d = maybe_wrap_dim(dim, x.dim());
  int64_t outer, n, inner;
  dim_blocks(x.sizes(), d, outer, n, inner);
  Tensor xc = x.contiguous();
  Tensor out = make_tensor(x.sizes(), x.dtype());
  dispatch_floating(x.dtype(), "softmax", [&](auto tag) {
    using T = decltype(tag);
    kernels::softmax_forward(kind, reinterpret_cast<const T*>(xc.raw_data()), reinterpret_cast<T*>(out.raw_data()),
                             outer, n, inner);
  });
  if (autograd::compute_requires_grad({&x})) {
    auto node = detail::make_node(backward_name(id, false),
        [kind, outer, n, inner](const std::vector<Tensor>& g, autograd::FunctionNode& self) -> std::vector<Tensor> {
          Tensor y = self.saved(0).contiguous();
          Tensor gc = g[0].contiguous();
          Tensor gx = make_tensor(y.sizes(), y.dtype());
          dispatch_floating(y.dtype(), "softmax backward", [&](auto tag) {
            using T = decltype(tag);
            kernels::softmax_backward(kind, reinterpret_cast<const T*>(gc.raw_data()),
                                      reinterpret_cast<const T*>(y.raw_data()), reinterpret_cast<T*>(gx.raw_data()),
                                      outer, n, inner);
          });
          return {gx};
        }, {&x});
    node->save(out, true);
    autograd::set_history(out, node);
  }
  return out;
}

}  // namespace

Tensor softmax(const Tensor& x, std::optional<int64_t> dim) {
  return softmax_impl(ActId::Softmax, kernels::SoftmaxKind::Softmax, x, dim.value_or(implicit_softmax_dim(x.dim())));
}
Tensor log_softmax(const Tensor& x, std::optional<int64_t> dim) {
  return softmax_impl(ActId::LogSoftmax, kernels::SoftmaxKind::LogSoftmax, x,
                      dim.value_or(implicit_softmax_dim(x.dim())));
}
Tensor softmin(const Tensor& x, std::optional<int64_t> dim) {
  return softmax_impl(ActId::Softmin, kernels::SoftmaxKind::Softmin, x, dim.value_or(implicit_softmax_dim(x.dim())));
}
Tensor softmax2d(const Tensor& x) {
  if (x.dim() != 3 && x.dim() != 4)
    throw Error(detail::concat("Softmax2d: expected input to be 3D or 4D, got ", x.dim(), "D instead"));
  return softmax_impl(ActId::Softmax2d, kernels::SoftmaxKind::Softmax, x, -3);
}

// ---- GLU ---------------------------------------------------------------------------------------------------
Tensor glu(const Tensor& x, int64_t dim) {
  check_floating(x, ActId::GLU);
  if (x.dim() == 0) throw Error("glu does not support scalars because halving size must be even");
  int64_t d = maybe_wrap_dim(dim, x.dim());
  int64_t outer, n, inner;
  dim_blocks(x.sizes(), d, outer, n, inner);
  if (n % 2 != 0)
    throw Error(detail::concat("Halving dimension must be even, but dimension ", d, " is size ", n));
  Shape os = x.sizes();
  os[d] = n / 2;
  Tensor xc = x.contiguous();
  Tensor out = make_tensor(os, x.dtype());
  dispatch_floating(x.dtype(), "glu", [&](auto tag) {
    using T = decltype(tag);
    kernels::glu_forward(reinterpret_cast<const T*>(xc.raw_data()), reinterpret_cast<T*>(out.raw_data()), outer, n / 2,
                         inner);
  });
  if (autograd::compute_requires_grad({&x})) {
    auto node = detail::make_node("GluBackward0",
        [outer, n, inner](const std::vector<Tensor>& g, autograd::FunctionNode& self) -> std::vector<Tensor> {
          Tensor xs = self.saved(0).contiguous();
          Tensor gc = g[0].contiguous();
          Tensor gx = make_tensor(xs.sizes(), xs.dtype());
          dispatch_floating(xs.dtype(), "glu backward", [&](auto tag) {
            using T = decltype(tag);
            kernels::glu_backward(reinterpret_cast<const T*>(gc.raw_data()), reinterpret_cast<const T*>(xs.raw_data()),
                                  reinterpret_cast<T*>(gx.raw_data()), outer, n / 2, inner);
          });
          return {gx};
        }, {&x});
    node->save(x);
    autograd::set_history(out, node);
  }
  return out;
}

// ---- PReLU -------------------------------------------------------------------------------------------------
Tensor prelu(const Tensor& x, const Tensor& weight) {
  check_floating(x, ActId::PReLU);
  if (x.dim() == 0) throw Error("Not allow zero-dim input tensor.");
  if (weight.dtype() != x.dtype())
    throw Error(detail::concat("expected scalar type ", dtype_name(x.dtype()), " but found ", dtype_name(weight.dtype())));
  int64_t channels = weight.numel();
  int64_t outer = 1, inner = 1;
  if (channels != 1) {
    int64_t channel_size = x.dim() > 1 ? x.sizes()[1] : 1;
    if (channel_size != channels)
      throw Error(detail::concat("Mismatch of parameter numbers and input channel size. Found parameter numbers = ",
                                 channels, " and channel size = ", channel_size, "."));
    outer = x.sizes()[0];
    for (int64_t i = 2; i < x.dim(); ++i) inner *= x.sizes()[i];
  } else {
    inner = x.numel();
  }
  Tensor xc = x.contiguous(), wc = weight.contiguous();
  Tensor out = make_tensor(x.sizes(), x.dtype());
  dispatch_floating(x.dtype(), "prelu", [&](auto tag) {
    using T = decltype(tag);
    kernels::prelu_forward(reinterpret_cast<const T*>(xc.raw_data()), reinterpret_cast<const T*>(wc.raw_data()),
                           reinterpret_cast<T*>(out.raw_data()), outer, channels, inner);
  });
  if (autograd::compute_requires_grad({&x, &weight})) {
    Shape wshape = weight.sizes();
    auto node = detail::make_node("PreluBackward0",
        [outer, channels, inner, wshape](const std::vector<Tensor>& g, autograd::FunctionNode& self) -> std::vector<Tensor> {
          Tensor xs = self.saved(0).contiguous(), ws = self.saved(1).contiguous();
          Tensor gc = g[0].contiguous();
          Tensor gx = make_tensor(xs.sizes(), xs.dtype());
          Tensor gw = make_tensor(wshape, xs.dtype());
          dispatch_floating(xs.dtype(), "prelu backward", [&](auto tag) {
            using T = decltype(tag);
            kernels::prelu_backward(reinterpret_cast<const T*>(gc.raw_data()), reinterpret_cast<const T*>(xs.raw_data()),
                                    reinterpret_cast<const T*>(ws.raw_data()), reinterpret_cast<T*>(gx.raw_data()),
                                    reinterpret_cast<T*>(gw.raw_data()), outer, channels, inner);
          });
          return {gx, gw};
        }, {&x, &weight});
    node->save(x);
    node->save(weight);
    autograd::set_history(out, node);
  }
  return out;
}

// ---- RReLU -------------------------------------------------------------------------------------------------
Tensor rrelu(const Tensor& x, double lower, double upper, bool training, bool inplace) {
  check_floating(x, ActId::RReLU);
  if (lower > upper)
    throw Error(detail::concat("Lower bound should be less than or equal to the upper bound"));
  if (!training) return leaky_relu(x, (lower + upper) / 2.0, inplace);
  // Training: y = x * slope where x <= 0, slope ~ U(lower, upper) from counter-based noise (one key drawn
  // from the default generator per call, kernels::RreluNoise); dy/dx = slope there, else 1. Recording, the
  // forward also writes dy/dx (PyTorch's `noise`) and the backward is g * noise; out of place, the node keeps
  // the input as well, for PyTorch's version check only (rrelu_with_noise saves self and noise).
  const bool record = autograd::compute_requires_grad({&x});
  if (inplace) autograd::check_inplace(x);
  const kernels::RreluNoise nz{default_generator().next_u64(), static_cast<float>(lower),
                               static_cast<float>(upper - lower)};
  Tensor xc = x.contiguous();
  Tensor noise = record ? make_tensor(x.sizes(), x.dtype()) : Tensor();
  const bool direct = inplace && xc.is_same(x);
  Tensor out = direct ? x : make_tensor(x.sizes(), x.dtype());
  dispatch_floating(x.dtype(), "rrelu", [&](auto tag) {
    using T = decltype(tag);
    kernels::rrelu_forward(nz, reinterpret_cast<const T*>(xc.raw_data()), reinterpret_cast<T*>(out.raw_data()),
                           x.numel(), record ? reinterpret_cast<T*>(noise.raw_data()) : nullptr);
  });
  std::shared_ptr<autograd::FunctionNode> node;
  if (record) {
    node = detail::make_node(inplace ? "RreluWithNoiseBackward1" : "RreluWithNoiseBackward0",
        [](const std::vector<Tensor>& g, autograd::FunctionNode& self) -> std::vector<Tensor> {
          Tensor ns = self.saved(0), gc = g[0].contiguous();
          if (self.num_saved() > 1) (void)self.saved(1);  // the input's version check
          if (gc.dtype() != ns.dtype()) gc = gc.to(ns.dtype());
          Tensor gi = make_tensor(ns.sizes(), ns.dtype());
          dispatch_floating(ns.dtype(), "rrelu backward", [&](auto tag) {
            using T = decltype(tag);
            kernels::rrelu_backward(reinterpret_cast<const T*>(gc.raw_data()), reinterpret_cast<const T*>(ns.raw_data()),
                                    reinterpret_cast<T*>(gi.raw_data()), ns.numel());
          });
          return {gi};
        }, {&x});
    node->save(noise);
    if (!inplace) node->save(x);
  }
  if (inplace) {
    if (!direct) {
      NoGradGuard ng;
      Tensor(x).copy_(out);
    }
    Tensor xm = x;
    if (direct) autograd::bump_version(x);
    if (record) autograd::rebase_history(xm, node);
    return x;
  }
  if (record) autograd::set_history(out, node);
  return out;
}

Tensor& rrelu_(Tensor& x, double lower, double upper, bool training) {
  rrelu(x, lower, upper, training, true);
  return x;
}

}  // namespace actlab::nn::functional
