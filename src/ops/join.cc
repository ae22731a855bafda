// cat and stack, with gradients that split the incoming gradient back into the pieces.
#include "actlab/autograd/grad_mode.h"
#include "actlab/ops/ops.h"
#include "ops/elementwise_impl.h"

namespace actlab {

using autograd::FunctionNode;

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  if (tensors.empty()) throw Error("torch.cat(): expected a non-empty list of Tensors");
  const Tensor& first = tensors[0];
  int64_t d = maybe_wrap_dim(dim, first.dim());
  Shape out_shape = first.sizes();
  out_shape[d] = 0;
  Dtype dt = first.dtype();
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    if (t.dim() != first.dim())
      throw Error(detail::concat("Tensors must have same number of dimensions: got ", first.dim(), " and ", t.dim()));
    for (int64_t k = 0; k < t.dim(); ++k)
      if (k != d && t.sizes()[k] != first.sizes()[k])
        throw Error(detail::concat("Sizes of tensors must match except in dimension ", d, ". Expected size ",
                                   first.sizes()[k], " but got size ", t.sizes()[k], " for tensor number ", i,
                                   " in the list."));
    out_shape[d] += t.sizes()[d];
    dt = promote(dt, t.dtype());
  }
  Tensor out = make_tensor(out_shape, dt);
  {
    NoGradGuard ng;
    int64_t off = 0;
    for (const Tensor& t : tensors) {
      out.narrow(d, off, t.sizes()[d]).copy_(t);
      off += t.sizes()[d];
    }
  }
  bool record = false;
  for (const Tensor& t : tensors) record = record || t.requires_grad();
  if (record && is_grad_enabled()) {
    std::vector<int64_t> lengths;
    for (const Tensor& t : tensors) lengths.push_back(t.sizes()[d]);
    auto node = std::make_shared<FunctionNode>("CatBackward0",
        [lengths, d](const std::vector<Tensor>& g, FunctionNode&) -> std::vector<Tensor> {
          std::vector<Tensor> r;
          int64_t off = 0;
          for (int64_t len : lengths) {
            r.push_back(g[0].narrow(d, off, len));
            off += len;
          }
          return r;
        });
    for (const Tensor& t : tensors) node->next_edges.push_back(autograd::gradient_edge(t));
    autograd::set_history(out, node);
  }
  return out;
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  if (tensors.empty()) throw Error("stack expects a non-empty TensorList");
  int64_t d = maybe_wrap_dim(dim, tensors[0].dim() + 1);
  std::vector<Tensor> parts;
  for (const Tensor& t : tensors) {
    if (t.sizes() != tensors[0].sizes())
      throw Error(detail::concat("stack expects each tensor to be equal size, but got ", shape_str(tensors[0].sizes()),
                                 " at entry 0 and ", shape_str(t.sizes()), " at another entry"));
    parts.push_back(t.unsqueeze(d));
  }
  return cat(parts, d);
}

}  // namespace actlab
