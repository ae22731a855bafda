#include "actlab/nn/anomaly.h"

#include "actlab/autograd/grad_mode.h"
#include "actlab/autograd/node.h"
#include "actlab/ops/ops.h"

namespace actlab::nn {

std::string non_finite_kind(const Tensor& t) {
  if (!t.defined() || !t.is_floating_point() || t.numel() == 0) return "";
  NoGradGuard ng;
  if (isnan(t).to(kFloat32).max().item<double>() > 0) return "nan";
  if (isinf(t).to(kFloat32).max().item<double>() > 0) return "inf";
  return "";
}

struct AnomalyGuard::State {
  std::string current_backward;  // the module whose backward is running
};

namespace {
std::string describe(const std::string& name, const Module& m) {
  return detail::concat("module '", name.empty() ? std::string("(root)") : name, "' (", m.type_name(), ")");
}
}  // namespace

AnomalyGuard::AnomalyGuard(Module& root) : state_(std::make_shared<State>()), previous_mode_(autograd::anomaly_mode_enabled()) {
  autograd::set_detect_anomaly(true);
  for (auto& [name, module] : root.named_modules()) {
    if (!module->named_children().empty()) continue;  // containers: their leaves say more
    std::string who = describe(name, *module);
    std::shared_ptr<State> state = state_;
    handles_.push_back(module->register_forward_hook(
        [who](Module&, const Tensor& input, const Tensor& output) -> std::optional<Tensor> {
          std::string in = non_finite_kind(input);
          if (!in.empty())
            throw Error(detail::concat("anomaly detected: the input of ", who, " contains ", in,
                                       " (the data, or a module outside the watched network, is not finite)"));
          std::string out = non_finite_kind(output);
          if (!out.empty())
            throw Error(detail::concat("anomaly detected: the forward of ", who, " produced ", out,
                                       " in its output from a finite input"));
          return std::nullopt;
        }));
    handles_.push_back(module->register_full_backward_pre_hook(
        [who, state](Module&, const Tensor& grad_output) -> std::optional<Tensor> {
          state->current_backward = "the backward of " + who;
          std::string g = non_finite_kind(grad_output);
          if (!g.empty())
            throw Error(detail::concat("anomaly detected: the output gradient reaching ", who, " contains ", g,
                                       " (the loss or a module outside the watched network produced it)"));
          return std::nullopt;
        }));
    handles_.push_back(module->register_full_backward_hook(
        [who, state](Module&, const Tensor& grad_input, const Tensor&) -> std::optional<Tensor> {
          std::string g = non_finite_kind(grad_input);
          if (!g.empty())
            throw Error(detail::concat("anomaly detected: the backward of ", who, " produced ", g,
                                       " in its input gradient from a finite output gradient"));
          state->current_backward.clear();
          return std::nullopt;
        }));
  }
}

AnomalyGuard::~AnomalyGuard() {
  for (auto& h : handles_) h.remove();
  autograd::set_detect_anomaly(previous_mode_);
}

std::string AnomalyGuard::backward_context() const { return state_->current_backward; }

}  // namespace actlab::nn
