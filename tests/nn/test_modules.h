// Tiny modules for the nn/optim tests (independent of the layer library).
#pragma once

#include "actlab/actlab.h"
#include "actlab/nn/module.h"

namespace actlab::testing {

// y = x W^T + b, printed like torch.nn.Linear.
class TinyLinear : public nn::Module {
 public:
  TinyLinear(int64_t in, int64_t out, uint64_t seed = 7) : in_(in), out_(out) {
    Generator g(seed);
    weight = register_parameter("weight", randn({out, in}, {}, &g) * 0.5);
    bias = register_parameter("bias", randn({out}, {}, &g) * 0.1);
  }
  Tensor forward(const Tensor& x) override { return matmul(x, weight.t()) + bias; }
  std::string type_name() const override { return "Linear"; }
  std::string extra_repr() const override {
    return "in_features=" + std::to_string(in_) + ", out_features=" + std::to_string(out_) + ", bias=True";
  }
  Tensor weight, bias;

 private:
  int64_t in_, out_;
};

// A parameter and two buffers, for state_dict ordering.
class WithBuffers : public nn::Module {
 public:
  WithBuffers() {
    register_buffer("running_mean", zeros({3}));
    scale = register_parameter("scale", ones({3}));
    register_buffer("count", zeros({}, {Dtype::Int64}));
  }
  Tensor forward(const Tensor& x) override { return x * scale; }
  std::string type_name() const override { return "WithBuffers"; }
  Tensor scale;
};

}  // namespace actlab::testing
