// F.linear (one GEMM forward, two backward, bias folded into the output before the GEMM) and F.dropout.
#include <algorithm>
#include <vector>

#include "actlab/autograd/grad_mode.h"
#include "actlab/nn/functional_layers.h"
#include "actlab/nn/module.h"
#include "actlab/ops/ops.h"
#include "ops/elementwise_impl.h"
#include "ops/gemm.h"

namespace actlab {
namespace {

using autograd::FunctionNode;

template <class T>
const T* cptr(const Tensor& t) {
  return reinterpret_cast<const T*>(t.raw_data());
}

}  // namespace

namespace nn::functional {

Tensor linear(const Tensor& input, const Tensor& weight, const Tensor& bias) {
  if (!input.defined() || !weight.defined()) throw ValueError("linear: input and weight must be defined tensors");
  if (weight.dim() != 2)
    throw ValueError(detail::concat("linear: expected a 2-D weight, got weight of size ", shape_str(weight.sizes())));
  if (input.dim() == 0)
    throw ValueError(detail::concat("both arguments to matmul need to be at least 1D, but they are 0D and 2D"));
  const int64_t in = weight.size(1), outf = weight.size(0);
  const int64_t K = input.size(-1);
  const int64_t M = K == 0 ? 0 : input.numel() / std::max<int64_t>(K, 1);
  const int64_t rows = input.dim() == 1 ? 1 : shape_numel(Shape(input.sizes().begin(), input.sizes().end() - 1));
  if (K != in)
    throw ValueError(detail::concat("mat1 and mat2 shapes cannot be multiplied (", rows, "x", K, " and ", in, "x",
                                    outf, ")"));
  (void)M;
  if (input.dtype() != weight.dtype() || (bias.defined() && bias.dtype() != input.dtype()))
    throw ValueError(detail::concat("expected scalar type ", dtype_name(input.dtype()), " but found ",
                                    dtype_name(input.dtype() != weight.dtype() ? weight.dtype() : bias.dtype())));
  if (!input.is_floating_point())
    throw ValueError(detail::concat("\"linear\" not implemented for '", input.dtype() == kInt64 ? "Long" : "Bool", "'"));
  if (bias.defined() && bias.numel() != outf && bias.numel() != 1)
    throw ValueError(detail::concat("The size of tensor a (", outf, ") must match the size of tensor b (", bias.numel(),
                                    ") at non-singleton dimension ", input.dim() == 1 ? 0 : input.dim() - 1));
  Shape oshape = input.sizes();
  oshape.back() = outf;
  Tensor x = input.contiguous(), w = weight.contiguous(), b = bias.defined() ? bias.contiguous() : Tensor();
  Tensor out = make_tensor(oshape, input.dtype());
  dispatch_floating(input.dtype(), "linear", [&](auto tag) {
    using T = decltype(tag);
    T* op = reinterpret_cast<T*>(out.raw_data());
    T beta = 0;
    if (b.defined()) {
      const T* bp = cptr<T>(b);
      const bool scalar_b = b.numel() == 1;
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < outf; ++j) op[r * outf + j] = bp[scalar_b ? 0 : j];
      beta = 1;
    }
    if (rows > 0 && outf > 0) {
      if (in == 0) {
        if (!b.defined()) std::fill(op, op + rows * outf, T(0));
      } else {
        detail::gemm(false, true, rows, outf, in, T(1), cptr<T>(x), in, cptr<T>(w), in, beta, op, outf);
      }
    }
  });
  if (autograd::compute_requires_grad({&input, &weight, &bias})) {
    const bool need_x = input.requires_grad(), need_w = weight.requires_grad(),
               need_b = bias.defined() && bias.requires_grad();
    const Shape bshape = bias.defined() ? bias.sizes() : Shape{};
    auto node = detail::make_node(
        "AddmmBackward0",
        [=](const std::vector<Tensor>& grads, FunctionNode& self) -> std::vector<Tensor> {
          if (!grads[0].defined()) return {Tensor(), Tensor(), Tensor()};
          Tensor xs = self.saved(0), ws = self.saved(1);
          Tensor gy = grads[0].contiguous();
          Tensor gx = need_x ? make_tensor(xs.sizes(), xs.dtype()) : Tensor();
          Tensor gw = need_w ? make_tensor({outf, in}, xs.dtype()) : Tensor();
          Tensor gb = need_b ? make_tensor(bshape, xs.dtype()) : Tensor();
          dispatch_floating(xs.dtype(), "linear_backward", [&](auto tag) {
            using T = decltype(tag);
            const T* g = cptr<T>(gy);
            if (need_x) {
              T* p = reinterpret_cast<T*>(gx.raw_data());
              if (outf == 0) std::fill(p, p + rows * in, T(0));
              else detail::gemm(false, false, rows, in, outf, T(1), g, outf, cptr<T>(ws), in, T(0), p, in);
            }
            if (need_w) {
              T* p = reinterpret_cast<T*>(gw.raw_data());
              if (rows == 0) std::fill(p, p + outf * in, T(0));
              else detail::gemm(true, false, outf, in, rows, T(1), g, outf, cptr<T>(xs), in, T(0), p, in);
            }
            if (need_b) {
              std::vector<double> acc(outf, 0.0);
              for (int64_t r = 0; r < rows; ++r)
                for (int64_t j = 0; j < outf; ++j) acc[j] += g[r * outf + j];
              T* p = reinterpret_cast<T*>(gb.raw_data());
              if (gb.numel() == 1 && outf != 1) {
                double s = 0;
                for (double v : acc) s += v;
                p[0] = static_cast<T>(s);
              } else {
                for (int64_t j = 0; j < outf; ++j) p[j] = static_cast<T>(acc[j]);
              }
            }
          });
          return {gx, gw, gb};
        },
        {&input, &weight, &bias});
    node->save(x.is_same(input) ? input : x.detach());
    node->save(w.is_same(weight) ? weight : w.detach());
    autograd::set_history(out, node);
  }
  return out;
}

Tensor dropout(const Tensor& input, double p, bool training, bool inplace, Generator* gen) {
  if (!(p >= 0.0 && p <= 1.0))
    throw ValueError(detail::concat("dropout probability has to be between 0 and 1, but got ", format_float(p)));
  if (!input.defined()) throw ValueError("dropout: input must be a defined tensor");
  if (p == 0.0 || !training || input.numel() == 0) return input;
  if (!input.is_floating_point())
    throw ValueError(detail::concat("\"dropout\" not implemented for '", input.dtype() == kInt64 ? "Long" : "Bool", "'"));
  Generator& g = gen ? *gen : default_generator();
  // The mask holds 0 or 1/(1-p) (all zeros when p == 1), drawn in index order.
  Tensor mask = make_tensor(input.sizes(), input.dtype());
  dispatch_floating(input.dtype(), "dropout", [&](auto tag) {
    using T = decltype(tag);
    T* m = reinterpret_cast<T*>(mask.raw_data());
    const T scale = p == 1.0 ? T(0) : static_cast<T>(1.0 / (1.0 - p));
    const double keep = 1.0 - p;
    const int64_t n = mask.numel();
    for (int64_t i = 0; i < n; ++i) m[i] = g.next_double() < keep ? scale : T(0);
  });
  if (inplace) {
    Tensor x = input;
    x.mul_(mask);
    return x;
  }
  return mul(input, mask);
}

}  // namespace nn::functional
}  // namespace actlab
