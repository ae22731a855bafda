#include "actlab/lab/probe.h"

#include "actlab/autograd/grad_mode.h"
#include "actlab/nn/activation.h"
#include "actlab/ops/ops.h"

namespace actlab::lab {

std::vector<ActivationProbe> probe_activations(nn::Sequential& model, const Tensor& batch) {
  std::vector<ActivationProbe> probes;
  std::vector<nn::RemovableHandle> handles;
  const auto& children = model.named_children();
  for (const auto& [name, child] : children) {
    if (dynamic_cast<nn::Activation*>(child.get()) == nullptr) continue;
    std::string label = name + "." + child->type_name();
    handles.push_back(child->register_forward_hook(
        [&probes, label](nn::Module&, const Tensor&, const Tensor& out) -> std::optional<Tensor> {
          Tensor o = out.detach().clone();
          Tensor active = (o > 0.0).to(kFloat32);
          double active_fraction = active.mean().item<double>();
          double dead = 0;
          if (o.dim() >= 2) {
            Tensor ever = actlab::max(active, 0).values;  // 1 where the unit fired for some sample
            dead = 1.0 - ever.mean().item<double>();
          } else {
            dead = 1.0 - (active.sum().item<double>() > 0 ? 1.0 : 0.0);
          }
          probes.push_back({label, o, active_fraction, dead});
          return std::nullopt;
        }));
  }
  bool was_training = model.is_training();
  model.eval();
  {
    NoGradGuard ng;
    model(batch);
  }
  model.train(was_training);
  for (auto& h : handles) h.remove();
  return probes;
}

}  // namespace actlab::lab
