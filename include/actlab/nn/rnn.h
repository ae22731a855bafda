// nn::RNN: an Elman RNN, h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), act = tanh or relu,
// stacked num_layers deep (torch.nn.RNN). Built from differentiable ops, so autograd runs through time.
#pragma once

#include <string>
#include <utility>

#include "actlab/nn/module.h"

namespace actlab::nn {

struct RNNOptions {
  int64_t num_layers = 1;
  std::string nonlinearity = "tanh";  // "tanh" or "relu"
  bool bias = true;
  bool batch_first = false;  // input and output [N, T, features] instead of [T, N, features]
};

class RNN : public Module {
 public:
  // Parameters weight_ih_l{k} [hidden, in], weight_hh_l{k} [hidden, hidden], bias_ih_l{k}, bias_hh_l{k}
  // [hidden], registered in that order per layer, each drawn from U(-1/sqrt(hidden), 1/sqrt(hidden)) with
  // `gen` (the default generator when null).
  RNN(int64_t input_size, int64_t hidden_size, RNNOptions o = {}, Generator* gen = nullptr);

  struct Output {
    Tensor output;  // [T, N, hidden] (batch_first: [N, T, hidden]; unbatched input: [T, hidden])
    Tensor h_n;     // [num_layers, N, hidden] (unbatched: [num_layers, hidden])
  };
  // input [T, N, input_size] ([N, T, input_size] when batch_first) or unbatched [T, input_size];
  // h0 [num_layers, N, hidden] (unbatched [num_layers, hidden]), zeros when undefined.
  Output forward_with_state(const Tensor& input, const Tensor& h0 = Tensor());
  // The output sequence only.
  Tensor forward(const Tensor& input) override { return forward_with_state(input).output; }

  std::string type_name() const override { return "RNN"; }
  std::string extra_repr() const override;

  int64_t input_size() const { return input_size_; }
  int64_t hidden_size() const { return hidden_size_; }
  const RNNOptions& options() const { return o_; }

 private:
  int64_t input_size_, hidden_size_;
  RNNOptions o_;
};

}  // namespace actlab::nn
