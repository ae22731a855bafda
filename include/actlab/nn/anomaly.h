// Finding the first NaN or Inf in a network, forward and backward (what `actlab train --detect-anomaly` runs).
//
// torch.autograd.set_detect_anomaly(True) checks every backward function's output for NaN and names the
// function ("Function 'AbsBackward0' returned nan values in its 0th output."); actlab has the same switch
// (autograd::set_detect_anomaly). AnomalyGuard adds what a user debugging a diverging run needs on top of it:
// while it lives, every module of `root` (the leaves, named by their dotted path as in named_modules()) is
// watched through hooks, and the first module whose forward output or input gradient holds a NaN or Inf
// although what it was given was finite stops the run with one message naming the module and its type:
//   "anomaly detected: the forward of module '3' (Linear) produced inf in its output from a finite input"
//   "anomaly detected: the backward of module '2' (Sigmoid) produced nan in its input gradient from a finite
//    output gradient"
// A NaN caught by autograd's own check inside a module's backward is reported with the module it ran in
// (backward_context()). Destroying the guard removes the hooks and restores the autograd switch.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "actlab/nn/module.h"

namespace actlab::nn {

// "nan", "inf" (either sign), or "" when every element is finite (or the tensor is undefined / not floating).
std::string non_finite_kind(const Tensor& t);

class AnomalyGuard {
 public:
  explicit AnomalyGuard(Module& root);
  ~AnomalyGuard();
  AnomalyGuard(const AnomalyGuard&) = delete;
  AnomalyGuard& operator=(const AnomalyGuard&) = delete;

  // "the backward of module '3' (Linear)" while that module's backward runs; "" outside backward.
  std::string backward_context() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
  std::vector<RemovableHandle> handles_;
  bool previous_mode_;
};

}  // namespace actlab::nn
