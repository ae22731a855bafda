// Losses: nll_loss and the two binary cross entropies have fused kernels with their own backward nodes;
// cross_entropy and mse_loss are compositions of differentiable ops.
#include "actlab/nn/loss.h"

#include <algorithm>
#include <cmath>

#include "actlab/autograd/grad_mode.h"
#include "actlab/core/tensor_impl.h"
#include "actlab/nn/functional.h"
#include "actlab/ops/ops.h"
#include "core/dispatch.h"
#include "ops/elementwise_impl.h"

namespace actlab::nn {

namespace {

enum class Reduction { None, Mean, Sum };

Reduction parse_reduction(const std::string& r) {
  if (r == "mean") return Reduction::Mean;
  if (r == "sum") return Reduction::Sum;
  if (r == "none") return Reduction::None;
  throw ValueError(r + " is not a valid value for reduction");
}

const char* scalar_type_name(Dtype d) {
  switch (d) {
    case Dtype::Float32: return "Float";
    case Dtype::Float64: return "Double";
    case Dtype::Int64: return "Long";
    case Dtype::Bool: return "Bool";
  }
  return "?";
}

std::string torch_size(const Shape& s) { return "torch.Size(" + shape_str(s) + ")"; }

void check_input(const Tensor& input, const char* fn) {
  if (!input.defined()) throw ValueError(std::string(fn) + ": input is an undefined tensor");
  if (!input.is_floating_point())
    throw Error(detail::concat("\"", fn, "\" not implemented for '", scalar_type_name(input.dtype()), "'"));
}

Tensor reduce(const Tensor& l, Reduction r) {
  switch (r) {
    case Reduction::None: return l;
    case Reduction::Sum: return sum(l);
    case Reduction::Mean: return mean(l);
  }
  return l;
}

// nll_loss on [N, C] log-probabilities and [N] targets.
Tensor nll_loss_2d(const Tensor& input, const Tensor& target, const Tensor& weight_in, int64_t ignore_index,
                   Reduction red) {
  const int64_t N = input.size(0), C = input.size(1);
  if (target.dim() != 1 || target.size(0) != N)
    throw ValueError(detail::concat("Expected input batch_size (", N, ") to match target batch_size (",
                                    target.dim() == 0 ? 1 : target.size(0), ")."));
  Tensor weight;
  if (weight_in.defined()) {
    if (weight_in.numel() != C)
      throw Error(detail::concat("weight tensor should be defined either for all ", C,
                                 " classes or no classes but got weight tensor of shape: ", shape_str(weight_in.sizes())));
    weight = weight_in.detach().to(input.dtype()).contiguous();
  }
  Tensor x = input.detach().contiguous();
  Tensor t = target.contiguous();
  const int64_t* tp = t.data_ptr<int64_t>();
  for (int64_t i = 0; i < N; ++i)
    if (tp[i] != ignore_index && (tp[i] < 0 || tp[i] >= C))
      throw IndexError(detail::concat("Target ", tp[i], " is out of bounds."));

  Tensor out = red == Reduction::None ? make_tensor({N}, input.dtype()) : make_tensor({}, input.dtype());
  double total_weight = 0;
  dispatch_floating(input.dtype(), "nll_loss", [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.data_ptr<T>();
    const T* wp = weight.defined() ? weight.data_ptr<T>() : nullptr;
    T* op = out.data_ptr<T>();
    double acc = 0;
    for (int64_t i = 0; i < N; ++i) {
      int64_t c = tp[i];
      if (c == ignore_index) {
        if (red == Reduction::None) op[i] = T(0);
        continue;
      }
      T w = wp ? wp[c] : T(1);
      T l = -w * xp[i * C + c];
      if (red == Reduction::None)
        op[i] = l;
      else
        acc += static_cast<double>(l);
      total_weight += static_cast<double>(w);
    }
    if (red == Reduction::Sum) op[0] = static_cast<T>(acc);
    if (red == Reduction::Mean) op[0] = static_cast<T>(static_cast<T>(acc) / static_cast<T>(total_weight));
  });

  if (autograd::compute_requires_grad({&input})) {
    Shape in_shape = input.sizes();
    Dtype dt = input.dtype();
    auto node = detail::make_node(
        "NllLossBackward0",
        [t, weight, ignore_index, red, total_weight, in_shape, dt, N, C](
            const std::vector<Tensor>& g, autograd::FunctionNode&) -> std::vector<Tensor> {
          Tensor gi = zeros(in_shape, {dt});
          Tensor go = g[0].contiguous();
          const int64_t* tp = t.data_ptr<int64_t>();
          dispatch_floating(dt, "nll_loss_backward", [&](auto tag) {
            using T = decltype(tag);
            Tensor gc = go.dtype() == dt ? go : go.to(dt);
            const T* gp = gc.template data_ptr<T>();
            const T* wp = weight.defined() ? weight.template data_ptr<T>() : nullptr;
            T* ip = gi.template data_ptr<T>();
            for (int64_t i = 0; i < N; ++i) {
              int64_t c = tp[i];
              if (c == ignore_index) continue;
              T w = wp ? wp[c] : T(1);
              T gv = red == Reduction::None ? gp[i] : gp[0];
              if (red == Reduction::Mean) gv = gv / static_cast<T>(total_weight);
              ip[i * C + c] = -w * gv;
            }
          });
          return {gi};
        },
        {&input});
    autograd::set_history(out, node);
  }
  return out;
}

// A fused elementwise loss: per-element loss l and dl/dinput d (weights included), then the reduction;
// the backward scales d by the incoming gradient.
Tensor finish_elementwise(const Tensor& input, Tensor l, Tensor d, Reduction red, const char* node_name) {
  Tensor out;
  {
    NoGradGuard ng;
    out = reduce(l, red);
  }
  if (autograd::compute_requires_grad({&input})) {
    const double n = static_cast<double>(input.numel());
    auto node = detail::make_node(
        node_name,
        [d, red, n](const std::vector<Tensor>& g, autograd::FunctionNode&) -> std::vector<Tensor> {
          Tensor go = g[0];
          if (red == Reduction::Mean) return {d * go / n};
          return {d * go};
        },
        {&input});
    autograd::set_history(out, node);
  }
  return out;
}

Tensor broadcast_weight(const Tensor& w, const Tensor& input) {
  if (!w.defined()) return Tensor();
  return w.detach().to(input.dtype()).expand(input.sizes()).contiguous();
}

}  // namespace

namespace functional {

Tensor nll_loss(const Tensor& input, const Tensor& target, const NLLLossOptions& o) {
  Reduction red = parse_reduction(o.reduction);
  check_input(input, "nll_loss");
  if (!target.defined()) throw ValueError("nll_loss: target is an undefined tensor");
  if (target.dtype() != Dtype::Int64)
    throw Error(detail::concat("expected scalar type Long but found ", scalar_type_name(target.dtype())));
  if (input.dim() == 0) throw ValueError("input tensor should be 1D or 2D");
  if (input.dim() == 1) {
    if (target.dim() != 0)
      throw ValueError(detail::concat("Expected input batch_size (1) to match target batch_size (",
                                      target.size(0), ")."));
    Tensor out = nll_loss_2d(input.unsqueeze(0), target.reshape({1}), o.weight, o.ignore_index, red);
    return red == Reduction::None ? out.reshape({}) : out;
  }
  if (input.dim() == 2) return nll_loss_2d(input, target, o.weight, o.ignore_index, red);
  // [N, C, d1, ...]: move the class dim last and flatten.
  const int64_t N = input.size(0), C = input.size(1);
  if (target.dim() == 0 || target.size(0) != N)
    throw ValueError(detail::concat("Expected input batch_size (", N, ") to match target batch_size (",
                                    target.dim() == 0 ? 1 : target.size(0), ")."));
  Shape expected{N};
  for (int64_t d = 2; d < input.dim(); ++d) expected.push_back(input.size(d));
  if (target.sizes() != expected)
    throw ValueError(detail::concat("Expected target size ", shape_str(expected), ", got ",
                                    shape_str(target.sizes())));
  Shape perm{0};
  for (int64_t d = 2; d < input.dim(); ++d) perm.push_back(d);
  perm.push_back(1);
  const int64_t rows = target.numel();
  Tensor out = nll_loss_2d(input.permute(perm).reshape({rows, C}), target.reshape({rows}), o.weight,
                           o.ignore_index, red);
  return red == Reduction::None ? out.reshape(expected) : out;
}

Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyLossOptions& o) {
  Reduction red = parse_reduction(o.reduction);
  check_input(input, "cross_entropy");
  if (!target.defined()) throw ValueError("cross_entropy: target is an undefined tensor");
  if (!(o.label_smoothing >= 0.0 && o.label_smoothing <= 1.0))
    throw ValueError("label_smoothing must be between 0.0 and 1.0. Got: " + format_float(o.label_smoothing));
  if (input.dim() == 0) throw ValueError("input tensor should be 1D or 2D");
  const int64_t class_dim = input.dim() == 1 ? 0 : 1;
  const int64_t C = input.size(class_dim);
  const double ls = o.label_smoothing;
  Tensor weight_b;  // the weight shaped to broadcast along the class dim
  if (o.weight.defined()) {
    if (o.weight.numel() != C)
      throw Error(detail::concat("weight tensor should be defined either for all ", C,
                                 " classes or no classes but got weight tensor of shape: ", shape_str(o.weight.sizes())));
    Shape ws(input.dim(), 1);
    ws[class_dim] = C;
    weight_b = o.weight.detach().to(input.dtype()).reshape(ws);
  }
  Tensor logp = functional::log_softmax(input, class_dim);

  if (target.is_floating_point()) {
    // Class probabilities.
    if (target.sizes() != input.sizes())
      throw ValueError(detail::concat("Expected target of the input's shape ", shape_str(input.sizes()),
                                      " for class-probability targets, got ", shape_str(target.sizes())));
    Tensor tgt = target.to(input.dtype());
    if (ls > 0) tgt = tgt * (1.0 - ls) + ls / static_cast<double>(C);
    Tensor prod = logp * tgt;
    if (weight_b.defined()) prod = prod * weight_b;
    switch (red) {
      case Reduction::None: return -sum(prod, {class_dim});
      case Reduction::Sum: return -sum(prod);
      case Reduction::Mean: return -sum(prod) / (static_cast<double>(input.numel()) / static_cast<double>(C));
    }
  }

  Tensor nll = nll_loss(logp, target, {o.weight, o.ignore_index, o.reduction});
  if (ls == 0.0) return nll;
  Tensor smooth = weight_b.defined() ? -sum(logp * weight_b, {class_dim}) : -sum(logp, {class_dim});
  Tensor keep = ne(target, static_cast<double>(o.ignore_index));
  smooth = where(keep, smooth, zeros_like(smooth));
  Tensor ret;
  switch (red) {
    case Reduction::None: ret = smooth; break;
    case Reduction::Sum: ret = sum(smooth); break;
    case Reduction::Mean: {
      double denom = 0;
      Tensor tc = target.contiguous();
      const int64_t* tp = tc.data_ptr<int64_t>();
      std::vector<double> w = o.weight.defined() ? o.weight.to_vector() : std::vector<double>();
      for (int64_t i = 0; i < tc.numel(); ++i)
        if (tp[i] != o.ignore_index) denom += w.empty() ? 1.0 : w[static_cast<size_t>(tp[i])];
      ret = sum(smooth) / denom;
      break;
    }
  }
  return nll * (1.0 - ls) + ret * (ls / static_cast<double>(C));
}

Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const BCELossOptions& o) {
  Reduction red = parse_reduction(o.reduction);
  check_input(input, "binary_cross_entropy");
  if (!target.defined()) throw ValueError("binary_cross_entropy: target is an undefined tensor");
  if (target.sizes() != input.sizes())
    throw ValueError("Using a target size (" + torch_size(target.sizes()) + ") that is different to the input size (" +
                     torch_size(input.sizes()) + ") is deprecated. Please ensure they have the same size.");
  Tensor x = input.detach().contiguous();
  Tensor y = target.detach().to(input.dtype()).contiguous();
  Tensor w = broadcast_weight(o.weight, input);
  Tensor l = make_tensor(input.sizes(), input.dtype());
  Tensor d = make_tensor(input.sizes(), input.dtype());
  dispatch_floating(input.dtype(), "binary_cross_entropy", [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.data_ptr<T>();
    const T* yp = y.data_ptr<T>();
    const T* wp = w.defined() ? w.data_ptr<T>() : nullptr;
    T* lp = l.data_ptr<T>();
    T* dp = d.data_ptr<T>();
    const int64_t n = x.numel();
    for (int64_t i = 0; i < n; ++i)
      if (!(xp[i] >= T(0) && xp[i] <= T(1))) throw Error("all elements of input should be between 0 and 1");
    for (int64_t i = 0; i < n; ++i) {
      const T xv = xp[i], yv = yp[i];
      T lv = (yv - T(1)) * std::max(static_cast<T>(std::log1p(-xv)), T(-100)) -
             yv * std::max(static_cast<T>(std::log(xv)), T(-100));
      T dv = (xv - yv) / std::max((T(1) - xv) * xv, static_cast<T>(1e-12));
      if (wp) {
        lv *= wp[i];
        dv *= wp[i];
      }
      lp[i] = lv;
      dp[i] = dv;
    }
  });
  return finish_elementwise(input, l, d, red, "BinaryCrossEntropyBackward0");
}

Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                        const BCEWithLogitsLossOptions& o) {
  Reduction red = parse_reduction(o.reduction);
  check_input(input, "binary_cross_entropy_with_logits");
  if (!target.defined()) throw ValueError("binary_cross_entropy_with_logits: target is an undefined tensor");
  if (target.sizes() != input.sizes())
    throw ValueError("Target size (" + torch_size(target.sizes()) + ") must be the same as input size (" +
                     torch_size(input.sizes()) + ")");
  Tensor x = input.detach().contiguous();
  Tensor y = target.detach().to(input.dtype()).contiguous();
  Tensor w = broadcast_weight(o.weight, input);
  Tensor pw = broadcast_weight(o.pos_weight, input);
  Tensor l = make_tensor(input.sizes(), input.dtype());
  Tensor d = make_tensor(input.sizes(), input.dtype());
  dispatch_floating(input.dtype(), "binary_cross_entropy_with_logits", [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.data_ptr<T>();
    const T* yp = y.data_ptr<T>();
    const T* wp = w.defined() ? w.data_ptr<T>() : nullptr;
    const T* pp = pw.defined() ? pw.data_ptr<T>() : nullptr;
    T* lp = l.data_ptr<T>();
    T* dp = d.data_ptr<T>();
    const int64_t n = x.numel();
    for (int64_t i = 0; i < n; ++i) {
      const T xv = xp[i], yv = yp[i];
      const T max_val = std::max(-xv, T(0));
      const T softplus_term = std::log(std::exp(-max_val) + std::exp(-xv - max_val)) + max_val;  // log(1+e^-x)
      const T sig = T(1) / (T(1) + std::exp(-xv));
      T lv, dv;
      if (pp) {
        const T log_weight = (pp[i] - T(1)) * yv + T(1);
        lv = (T(1) - yv) * xv + log_weight * softplus_term;
        const T t = pp[i] * yv;
        dv = (t + T(1) - yv) * sig - t;
      } else {
        lv = (T(1) - yv) * xv + softplus_term;
        dv = sig - yv;
      }
      if (wp) {
        lv *= wp[i];
        dv *= wp[i];
      }
      lp[i] = lv;
      dp[i] = dv;
    }
  });
  return finish_elementwise(input, l, d, red, "BinaryCrossEntropyWithLogitsBackward0");
}

Tensor mse_loss(const Tensor& input, const Tensor& target, const MSELossOptions& o) {
  Reduction red = parse_reduction(o.reduction);
  check_input(input, "mse_loss");
  if (!target.defined()) throw ValueError("mse_loss: target is an undefined tensor");
  Tensor diff = input - target;
  return reduce(diff * diff, red);
}

}  // namespace functional

Tensor Loss::forward(const Tensor&) {
  throw ValueError(type_name() + ".forward() missing 1 required positional argument: 'target'");
}

Tensor NLLLoss::forward(const Tensor& input, const Tensor& target) { return functional::nll_loss(input, target, o_); }

CrossEntropyLoss::CrossEntropyLoss(CrossEntropyLossOptions o) : o_(std::move(o)) {
  parse_reduction(o_.reduction);
  if (!(o_.label_smoothing >= 0.0 && o_.label_smoothing <= 1.0))
    throw ValueError("label_smoothing must be between 0.0 and 1.0. Got: " + format_float(o_.label_smoothing));
}
Tensor CrossEntropyLoss::forward(const Tensor& input, const Tensor& target) {
  return functional::cross_entropy(input, target, o_);
}
Tensor BCELoss::forward(const Tensor& input, const Tensor& target) {
  return functional::binary_cross_entropy(input, target, o_);
}
Tensor BCEWithLogitsLoss::forward(const Tensor& input, const Tensor& target) {
  return functional::binary_cross_entropy_with_logits(input, target, o_);
}
Tensor MSELoss::forward(const Tensor& input, const Tensor& target) { return functional::mse_loss(input, target, o_); }

}  // namespace actlab::nn
