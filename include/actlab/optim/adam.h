// torch.optim.Adam and AdamW (PyTorch 1.13, single-tensor path):
//   t += 1;  Adam: g += weight_decay * p   |   AdamW: p *= 1 - lr * weight_decay
//   m = beta1 m + (1 - beta1) g;   v = beta2 v + (1 - beta2) g^2   (amsgrad: vmax = max(vmax, v))
//   p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
#pragma once

#include <utility>

#include "actlab/optim/optimizer.h"

namespace actlab::optim {

struct AdamOptions {
  double lr = 1e-3;
  std::pair<double, double> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool amsgrad = false;
  bool maximize = false;
};

struct AdamWOptions {
  double lr = 1e-3;
  std::pair<double, double> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 1e-2;
  bool amsgrad = false;
  bool maximize = false;
};

class Adam : public Optimizer {
 public:
  // Errors (ValueError): "Invalid learning rate: ...", "Invalid epsilon value: ...",
  // "Invalid beta parameter at index 0: ...", "Invalid weight_decay value: ...".
  Adam(std::vector<Tensor> params, AdamOptions o = {});
  void step() override;
  const AdamOptions& options() const { return o_; }

 protected:
  Adam(std::vector<Tensor> params, AdamOptions o, bool decoupled);
  bool has_step() const override { return true; }
  std::vector<std::string> buffer_names() const override;

 private:
  AdamOptions o_;
  bool decoupled_ = false;
};

class AdamW : public Adam {
 public:
  AdamW(std::vector<Tensor> params, AdamWOptions o = {});
};

}  // namespace actlab::optim
