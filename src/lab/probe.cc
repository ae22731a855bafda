#include "actlab/lab/probe.h"

#include <cmath>
#include <limits>

#include "actlab/autograd/grad_mode.h"
#include "actlab/ops/ops.h"

namespace actlab::lab {

namespace {

using kernels::ActId;

// Units per sample: every dim but the batch dim (a 1-D output is one sample).
int64_t units_of(const Tensor& t) { return t.dim() >= 2 ? t.numel() / t.size(0) : t.numel(); }

// Counts outputs > 0 and marks the units whose derivative is nonzero for some sample of this batch.
struct Accumulator {
  std::string name;
  int64_t units = 0;
  double active = 0;
  int64_t seen = 0;           // outputs counted
  bool elementwise = true;
  std::vector<uint8_t> alive;  // per unit: passed a gradient at least once

  void add(const nn::Activation& act, const Tensor& input, const Tensor& output) {
    Tensor out = output.detach().to(kFloat32).contiguous();
    const float* o = out.data_ptr<float>();
    int64_t n = out.numel();
    for (int64_t i = 0; i < n; ++i) active += o[i] > 0.0f ? 1.0 : 0.0;
    seen += n;
    if (units == 0) {
      units = units_of(out);
      alive.assign(static_cast<size_t>(units), 0);
    }
    Tensor passes = gradient_passes(act, input, output);
    if (!passes.defined()) {
      elementwise = false;
      return;
    }
    const float* p = passes.data_ptr<float>();
    for (int64_t i = 0; i < n; ++i)
      if (p[i] != 0.0f) alive[static_cast<size_t>(i % units)] = 1;
  }
  double active_fraction() const { return seen ? active / static_cast<double>(seen) : 0.0; }
  double dead_fraction() const {
    if (!elementwise) return std::numeric_limits<double>::quiet_NaN();
    int64_t dead = 0;
    for (uint8_t a : alive) dead += a ? 0 : 1;
    return units ? static_cast<double>(dead) / static_cast<double>(units) : 0.0;
  }
};

// Forward hooks on every activation layer of `model` feeding one accumulator each; removed on destruction.
struct Hooks {
  std::vector<Accumulator> acc;
  std::vector<nn::RemovableHandle> handles;
  std::vector<Tensor> outputs;  // the last batch's outputs, per layer (kept only when asked)

  Hooks(nn::Sequential& model, bool keep_outputs) {
    for (const auto& [name, child] : model.named_children()) {
      auto* act = dynamic_cast<nn::Activation*>(child.get());
      if (act == nullptr) continue;
      size_t k = acc.size();
      acc.push_back({name + "." + child->type_name()});
      outputs.emplace_back();
      handles.push_back(child->register_forward_hook(
          [this, k, act, keep_outputs](nn::Module&, const Tensor& in, const Tensor& out) -> std::optional<Tensor> {
            acc[k].add(*act, in, out);
            if (keep_outputs) outputs[k] = out.detach().clone();
            return std::nullopt;
          }));
    }
  }
  ~Hooks() {
    for (auto& h : handles) h.remove();
  }
};

void run_eval(nn::Sequential& model, const Tensor& batch) {
  bool was_training = model.is_training();
  model.eval();
  {
    NoGradGuard ng;
    model(batch);
  }
  model.train(was_training);
}

}  // namespace

Tensor gradient_passes(const nn::Activation& act, const Tensor& input, const Tensor& output) {
  const nn::ActivationSpec& spec = act.spec();
  const kernels::ActivationRow& row = spec.row();
  Tensor x = input.detach().to(kFloat32).contiguous();
  Tensor mask = empty(x.sizes());
  const float* xi = x.data_ptr<float>();
  float* m = mask.data_ptr<float>();
  int64_t n = x.numel();
  if (row.backward != nullptr && static_cast<int>(spec.id) < kernels::kNumPointwise) {
    bool saved_is_output = row.saves == kernels::Saves::Output;
    Tensor saved = saved_is_output ? output.detach().to(kFloat32).contiguous() : x;
    const float* s = saved.data_ptr<float>();
    for (int64_t i = 0; i < n; ++i)
      m[i] = row.backward(1.0, static_cast<double>(s[i]), saved_is_output, spec.values) != 0.0 ? 1.0f : 0.0f;
    return mask;
  }
  if (spec.id == ActId::PReLU) {
    // d/dx = 1 for x > 0, else the (per-channel, channel = dim 1) slope.
    Tensor w = act.weight().detach().to(kFloat32).contiguous();
    const float* wp = w.data_ptr<float>();
    int64_t channels = w.numel();
    int64_t inner = 1;
    for (int64_t d = 2; d < x.dim(); ++d) inner *= x.size(d);
    int64_t c_dim = x.dim() >= 2 ? x.size(1) : 1;
    for (int64_t i = 0; i < n; ++i) {
      int64_t c = channels == 1 ? 0 : (i / inner) % c_dim;
      m[i] = (xi[i] > 0.0f || wp[c] != 0.0f) ? 1.0f : 0.0f;
    }
    return mask;
  }
  if (spec.id == ActId::RReLU) {
    // Eval mode: slope (lower + upper) / 2 below zero.
    double slope = (spec.get("lower") + spec.get("upper")) / 2;
    for (int64_t i = 0; i < n; ++i) m[i] = (xi[i] > 0.0f || slope != 0.0) ? 1.0f : 0.0f;
    return mask;
  }
  return Tensor();  // Softmax family, Softmax2d, GLU: not elementwise
}

std::vector<ActivationProbe> probe_activations(nn::Sequential& model, const Tensor& batch) {
  Hooks hooks(model, /*keep_outputs=*/true);
  run_eval(model, batch);
  std::vector<ActivationProbe> probes;
  for (size_t k = 0; k < hooks.acc.size(); ++k)
    probes.push_back({hooks.acc[k].name, hooks.outputs[k], hooks.acc[k].active_fraction(),
                      hooks.acc[k].dead_fraction()});
  return probes;
}

std::vector<LayerSparsity> measure_sparsity(nn::Sequential& model, const Tensor& images, int64_t batch_size) {
  if (batch_size < 1) throw ValueError(detail::concat("batch_size must be at least 1, got ", batch_size));
  Hooks hooks(model, /*keep_outputs=*/false);
  int64_t n = images.size(0);
  for (int64_t start = 0; start < n; start += batch_size)
    run_eval(model, images.narrow(0, start, std::min(batch_size, n - start)));
  std::vector<LayerSparsity> out;
  for (const auto& a : hooks.acc) out.push_back({a.name, a.units, a.active_fraction(), a.dead_fraction()});
  return out;
}

}  // namespace actlab::lab
