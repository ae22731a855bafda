#include "actlab/nn/rnn.h"

#include <cmath>

#include "actlab/nn/functional.h"
#include "actlab/nn/init.h"
#include "actlab/ops/ops.h"

namespace actlab::nn {

RNN::RNN(int64_t input_size, int64_t hidden_size, RNNOptions o, Generator* gen)
    : input_size_(input_size), hidden_size_(hidden_size), o_(std::move(o)) {
  if (input_size <= 0 || hidden_size <= 0)
    throw ValueError(detail::concat("RNN: input_size and hidden_size must be positive, got ", input_size, " and ",
                                    hidden_size));
  if (o_.num_layers <= 0) throw ValueError("num_layers must be greater than or equal to 1");
  if (o_.nonlinearity != "tanh" && o_.nonlinearity != "relu")
    throw ValueError("Unknown nonlinearity '" + o_.nonlinearity + "'. Select from 'tanh' or 'relu'.");
  const double k = 1.0 / std::sqrt(static_cast<double>(hidden_size));
  for (int64_t l = 0; l < o_.num_layers; ++l) {
    const int64_t in = l == 0 ? input_size : hidden_size;
    const std::string s = std::to_string(l);
    Tensor w_ih = empty({hidden_size, in}), w_hh = empty({hidden_size, hidden_size});
    init::uniform_(w_ih, -k, k, gen);
    init::uniform_(w_hh, -k, k, gen);
    register_parameter("weight_ih_l" + s, w_ih);
    register_parameter("weight_hh_l" + s, w_hh);
    if (o_.bias) {
      Tensor b_ih = empty({hidden_size}), b_hh = empty({hidden_size});
      init::uniform_(b_ih, -k, k, gen);
      init::uniform_(b_hh, -k, k, gen);
      register_parameter("bias_ih_l" + s, b_ih);
      register_parameter("bias_hh_l" + s, b_hh);
    }
  }
}

std::string RNN::extra_repr() const {
  std::string s = std::to_string(input_size_) + ", " + std::to_string(hidden_size_);
  if (o_.num_layers != 1) s += ", num_layers=" + std::to_string(o_.num_layers);
  if (!o_.bias) s += ", bias=False";
  if (o_.batch_first) s += ", batch_first=True";
  return s;
}

RNN::Output RNN::forward_with_state(const Tensor& input, const Tensor& h0_in) {
  if (!input.defined()) throw ValueError("RNN: input is an undefined tensor");
  if (input.dim() != 2 && input.dim() != 3)
    throw ValueError(detail::concat("RNN: Expected input to be 2D or 3D, got ", input.dim(), "D tensor instead"));
  if (!input.is_floating_point()) throw ValueError("RNN: input must be a floating-point tensor");
  const bool batched = input.dim() == 3;
  Tensor x = batched ? (o_.batch_first ? input.transpose(0, 1) : input) : input.unsqueeze(1);  // [T, N, in]
  if (x.size(2) != input_size_)
    throw ValueError(detail::concat("input.size(-1) must be equal to input_size. Expected ", input_size_, ", got ",
                                    x.size(2)));
  const int64_t T = x.size(0), N = x.size(1), H = hidden_size_, L = o_.num_layers;
  Tensor h0;
  if (h0_in.defined()) {
    Shape expected = batched ? Shape{L, N, H} : Shape{L, H};
    if (h0_in.sizes() != expected)
    {
      std::string tuple = shape_str(expected);
      tuple = "(" + tuple.substr(1, tuple.size() - 2) + (expected.size() == 1 ? ",)" : ")");
      throw ValueError(detail::concat("Expected hidden size ", tuple, ", got ", shape_str(h0_in.sizes())));
    }
    h0 = batched ? h0_in : h0_in.unsqueeze(1);
  } else {
    h0 = zeros({L, N, H}, {x.dtype()});
  }
  auto named = named_parameters(false);
  auto param = [&](const std::string& name) -> Tensor {
    for (auto& [n, t] : named)
      if (n == name) return t;
    return Tensor();
  };
  const bool relu = o_.nonlinearity == "relu";
  std::vector<Tensor> h_n;
  Tensor layer_in = x;
  for (int64_t l = 0; l < L; ++l) {
    const std::string s = std::to_string(l);
    Tensor w_ih = param("weight_ih_l" + s), w_hh = param("weight_hh_l" + s);
    Tensor b_ih = param("bias_ih_l" + s), b_hh = param("bias_hh_l" + s);
    const int64_t in = layer_in.size(2);
    // The input projection of every time step at once: [T*N, in] x [in, H].
    Tensor xw = matmul(layer_in.reshape({T * N, in}), w_ih.t());
    if (b_ih.defined()) xw = xw + b_ih;
    if (b_hh.defined()) xw = xw + b_hh;
    xw = xw.reshape({T, N, H});
    Tensor w_hh_t = w_hh.t();
    Tensor h = h0.select(0, l);
    std::vector<Tensor> outs;
    outs.reserve(static_cast<size_t>(T));
    for (int64_t t = 0; t < T; ++t) {
      Tensor pre = xw.select(0, t) + matmul(h, w_hh_t);
      h = relu ? functional::relu(pre) : functional::tanh(pre);
      outs.push_back(h);
    }
    h_n.push_back(h);
    layer_in = T > 0 ? stack(outs, 0) : zeros({0, N, H}, {x.dtype()});
  }
  Tensor out = layer_in;
  Tensor hn = stack(h_n, 0);
  if (!batched) {
    out = out.squeeze(1);
    hn = hn.squeeze(1);
  } else if (o_.batch_first) {
    out = out.transpose(0, 1);
  }
  return {out, hn};
}

}  // namespace actlab::nn
