// torch.optim's Optimizer base: parameter groups (each with its own lr), per-parameter state, zero_grad,
// and a flat state_dict for checkpoints. Updates run in place under NoGradGuard on contiguous data.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "actlab/core/tensor.h"

namespace actlab::optim {

struct ParamGroup {
  std::vector<Tensor> params;
  double lr = 0.0;
  double initial_lr = 0.0;  // set by the first scheduler attached (PyTorch's group['initial_lr'])
  bool has_initial_lr = false;
};

// Flat, ordered (name, tensor) pairs, like nn::Module::state_dict():
//   "state.<i>.<buffer>" per parameter i (counted across groups), e.g. "state.0.momentum_buffer",
//   "state.0.step" (0-d float32), "state.0.exp_avg"; and "param_groups.<g>.lr" (0-d float64).
using OptimizerStateDict = std::vector<std::pair<std::string, Tensor>>;

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter that has a gradient (parameters without one are skipped).
  virtual void step() = 0;
  // set_to_none: grads become undefined (PyTorch 2's default); otherwise they are zeroed in place.
  void zero_grad(bool set_to_none = true);

  std::vector<ParamGroup>& param_groups() { return groups_; }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  // The lr of group 0, and setting it on every group.
  double lr() const { return groups_.at(0).lr; }
  void set_lr(double lr);

  // Copies of the per-parameter state and the lrs (later steps do not change a saved dict).
  OptimizerStateDict state_dict() const;
  // Restores a dict from state_dict() of an optimizer of the same kind over parameters of the same
  // shapes. Errors name the offending key.
  void load_state_dict(const OptimizerStateDict& state);

 protected:
  // Validates params (non-empty, floating leaves) and makes one group with `lr`.
  Optimizer(std::vector<Tensor> params, double lr);

  struct ParamState {
    int64_t step = 0;
    std::vector<std::pair<std::string, Tensor>> buffers;  // created lazily on the first step
    Tensor* find(const std::string& name);
  };
  // The state of the i-th parameter (counted across groups).
  ParamState& state(size_t i) { return state_.at(i); }
  // The loop every step() runs: under NoGradGuard, for each parameter with a gradient, f(param, gradient
  // as a contiguous tensor of the parameter's dtype, the parameter's state, its group's lr); the
  // parameter's version is bumped afterwards. Parameters must be contiguous (`who` names the optimizer).
  void for_each_param_with_grad(const char* who,
                                const std::function<void(Tensor& p, const Tensor& g, ParamState& st, double lr)>& f);
  // Whether the state records "step" (SGD's does not).
  virtual bool has_step() const { return false; }
  virtual std::vector<std::string> buffer_names() const = 0;

  std::vector<ParamGroup> groups_;
  std::vector<ParamState> state_;
};

}  // namespace actlab::optim
