#include "actlab/lab/measure.h"

#include <cmath>
#include <limits>

#include "actlab/autograd/grad_mode.h"
#include "actlab/autograd/node.h"
#include "actlab/nn/activation.h"
#include "actlab/nn/loss.h"
#include "actlab/ops/ops.h"

namespace actlab::lab {

Speed measure_speed(const std::string& spec, const Shape& shape, double min_time) {
  auto module = nn::make_activation(spec);
  Tensor x = (randn(shape) * 3.0).detach();
  Speed s;
  s.forward_seconds = best_seconds([&] {
    NoGradGuard ng;
    Tensor y = (*module)(x);
  }, min_time);
  Tensor xr = x.clone().requires_grad_(true);
  Tensor y = (*module)(xr);
  Tensor g = randn(y.sizes());
  auto node = y.grad_fn();
  s.backward_seconds = best_seconds([&] {
    NoGradGuard ng;
    auto grads = node->apply({g});
  }, min_time);
  double n = static_cast<double>(x.numel());
  s.forward_gbps = 8.0 * n / s.forward_seconds / 1e9;
  s.backward_gbps = 12.0 * n / s.backward_seconds / 1e9;
  return s;
}

double measure_copy_gbps(int64_t n, double min_time) { return measure_copy_gbps(randn({n}), min_time); }
double measure_copy_gbps(const Tensor& src, double min_time) {
  double secs = best_seconds([&] { Tensor c = src.clone(); }, min_time);
  return 8.0 * static_cast<double>(src.numel()) / secs / 1e9;
}

namespace {

std::string bound_text(double v) {
  if (v == 0) return "0";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

}  // namespace

Range measure_range(const std::string& spec_text, double lo, double hi, int64_t points) {
  nn::ActivationSpec spec = nn::parse_activation_spec(spec_text);
  bool elementwise = static_cast<int>(spec.id) < kernels::kNumPointwise || spec.id == kernels::ActId::PReLU ||
                     spec.id == kernels::ActId::RReLU;
  if (!elementwise)
    throw ValueError(detail::concat(spec.row().name, " is not elementwise: its output range over a sweep is not defined"));
  if (points < 2 || !(hi > lo)) throw ValueError("measure_range needs hi > lo and at least 2 points");
  auto module = nn::make_activation(spec);
  module->eval();  // RReLU: the mean slope
  Range r;
  Tensor x = linspace(lo, hi, points, {.dtype = kFloat64}).requires_grad_(true);
  Tensor y = (*module)(x);
  y.backward(ones_like(y));
  r.x = x.detach().to_vector();
  r.y = y.detach().to_vector();
  r.dy = x.grad().to_vector();
  std::vector<double> t;
  {
    NoGradGuard ng;
    t = (*module)(tensor({-1e6, 1e6, -1e7, 1e7}, {.dtype = kFloat64})).to_vector();
  }
  double sweep_min = std::numeric_limits<double>::infinity(), sweep_max = -sweep_min;
  for (double v : r.y) {
    sweep_min = std::min(sweep_min, v);
    sweep_max = std::max(sweep_max, v);
  }
  r.y_min = std::min({sweep_min, t[0], t[1]});  // the 1e7 tails only decide unboundedness
  r.y_max = std::max({sweep_max, t[0], t[1]});
  auto close = [](double a, double b) { return std::abs(a - b) <= 1e-9 * std::max(1.0, std::abs(b)); };
  r.min_attained = close(sweep_min, r.y_min);
  r.max_attained = close(sweep_max, r.y_max);
  // A tail that still grows tenfold from 1e6 to 1e7 is unbounded (LeakyReLU's -0.01 x as much as ReLU's x).
  auto grows = [](double at6, double at7) { return std::abs(at7) > 1 && std::abs(at7) > 5 * std::abs(at6); };
  r.unbounded_below = grows(t[0], t[2]) && std::min(t[0], t[2]) < 0 && t[2] < t[0];
  r.unbounded_above = grows(t[1], t[3]) && t[3] > t[1];
  r.dy_min = std::numeric_limits<double>::infinity();
  r.dy_max = -r.dy_min;
  for (size_t i = 0; i < r.dy.size(); ++i) {
    r.dy_min = std::min(r.dy_min, r.dy[i]);
    if (r.dy[i] > r.dy_max) {
      r.dy_max = r.dy[i];
      r.x_at_dy_max = r.x[i];
    }
  }
  std::string lower = r.unbounded_below ? "(-inf" : (r.min_attained ? "[" : "(") + bound_text(r.y_min);
  std::string upper = r.unbounded_above ? "inf)" : bound_text(r.y_max) + (r.max_attained ? "]" : ")");
  r.text = lower + ", " + upper;
  return r;
}

double l2_norm(const Tensor& t) {
  Tensor d = t.to(kFloat64);
  return std::sqrt((d * d).sum().item<double>());
}

std::vector<double> weight_grad_norms(nn::Sequential& model, const Tensor& x, const Tensor& y) {
  model.zero_grad();
  Tensor loss = nn::functional::cross_entropy(model(x), y);
  loss.backward();
  std::vector<double> norms;
  for (auto& [name, p] : model.named_parameters()) {
    if (p.dim() < 2 || name.size() < 7 || name.compare(name.size() - 7, 7, ".weight") != 0) continue;
    Tensor g = p.grad();
    norms.push_back(g.defined() ? l2_norm(g) : 0.0);
  }
  model.zero_grad();
  return norms;
}

}  // namespace actlab::lab
