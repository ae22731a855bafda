// torch.optim.SGD (PyTorch 1.13 semantics):
//   d = grad (+ weight_decay * p);  with momentum: buf = d on the first step, else buf = momentum * buf +
//   (1 - dampening) * d; d = nesterov ? d + momentum * buf : buf;  p -= lr * d.
#pragma once

#include <optional>

#include "actlab/optim/optimizer.h"

namespace actlab::optim {

struct SGDOptions {
  std::optional<double> lr;  // required, as in PyTorch
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
  bool maximize = false;
};

class SGD : public Optimizer {
 public:
  // Errors (ValueError): "Invalid learning rate: -0.1", "Invalid momentum value: ...",
  // "Invalid weight_decay value: ...", "Nesterov momentum requires a momentum and zero dampening".
  SGD(std::vector<Tensor> params, SGDOptions o);
  void step() override;
  const SGDOptions& options() const { return o_; }

 protected:
  std::vector<std::string> buffer_names() const override { return {"momentum_buffer"}; }

 private:
  SGDOptions o_;
};

}  // namespace actlab::optim
