// Reductions: sum, mean, var, std, max, min, argmax, argmin, and sum_to (the inverse of broadcasting).
#include <algorithm>
#include <cmath>
#include <numeric>

#include "actlab/autograd/grad_mode.h"
#include "actlab/ops/ops.h"
#include "core/parallel.h"
#include "ops/elementwise_impl.h"

namespace actlab {

using autograd::FunctionNode;
using detail::make_node;

namespace {

// Normalized, sorted, unique dims; empty `dims` means all.
std::vector<bool> reduce_mask(const Shape& dims, int64_t ndim) {
  std::vector<bool> mask(static_cast<size_t>(ndim), dims.empty());
  for (int64_t d : dims) {
    int64_t w = maybe_wrap_dim(d, ndim);
    if (ndim == 0) continue;
    if (mask[w] && !dims.empty())
      throw Error(detail::concat("dim ", w, " appears multiple times in the list of dims"));
    mask[w] = true;
  }
  return mask;
}

Shape reduced_shape(const Shape& in, const std::vector<bool>& mask, bool keepdim) {
  Shape out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (!mask[i])
      out.push_back(in[i]);
    else if (keepdim)
      out.push_back(1);
  }
  return out;
}

// A contiguous [kept..., reduced...] arrangement of `a` and the two block sizes.
Tensor arrange_for_reduction(const Tensor& a, const std::vector<bool>& mask, int64_t& outer, int64_t& inner) {
  Shape perm;
  outer = 1;
  inner = 1;
  for (size_t i = 0; i < mask.size(); ++i)
    if (!mask[i]) {
      perm.push_back(static_cast<int64_t>(i));
      outer *= a.sizes()[i];
    }
  for (size_t i = 0; i < mask.size(); ++i)
    if (mask[i]) {
      perm.push_back(static_cast<int64_t>(i));
      inner *= a.sizes()[i];
    }
  NoGradGuard no_grad;
  return a.permute(perm).contiguous();
}

Tensor sum_values(const Tensor& a, const std::vector<bool>& mask, bool keepdim) {
  int64_t outer, inner;
  Tensor c = arrange_for_reduction(a, mask, outer, inner);
  Dtype od = is_floating(a.dtype()) ? a.dtype() : Dtype::Int64;
  Tensor out = make_tensor(reduced_shape(a.sizes(), mask, keepdim), od);
  dispatch_all(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* p = reinterpret_cast<const T*>(c.raw_data());
    if constexpr (std::is_floating_point_v<T>) {
      T* o = reinterpret_cast<T*>(out.raw_data());
      detail::parallel_for(outer, outer * inner >= detail::kElementwiseParallel && outer > 1, [&](int64_t r, int) {
        double acc = 0;
        const T* row = p + r * inner;
        for (int64_t k = 0; k < inner; ++k) acc += row[k];
        o[r] = static_cast<T>(acc);
      });
    } else {
      int64_t* o = reinterpret_cast<int64_t*>(out.raw_data());
      for (int64_t r = 0; r < outer; ++r) {
        int64_t acc = 0;
        for (int64_t k = 0; k < inner; ++k) acc += static_cast<int64_t>(p[r * inner + k]);
        o[r] = acc;
      }
    }
  });
  return out;
}

// Gradient of a reduction: g (reduced shape) back to the input shape.
Tensor expand_reduced(const Tensor& g, const Shape& in_shape, const std::vector<bool>& mask, bool keepdim) {
  Shape kshape = reduced_shape(in_shape, mask, true);
  return g.reshape(kshape).expand(in_shape);
}

struct DimBlocks {
  int64_t outer = 1, n = 1, inner = 1;
};
DimBlocks blocks(const Shape& s, int64_t d) {
  DimBlocks b;
  for (int64_t i = 0; i < d; ++i) b.outer *= s[i];
  b.n = s.empty() ? 1 : s[d];
  for (size_t i = static_cast<size_t>(d) + 1; i < s.size(); ++i) b.inner *= s[i];
  return b;
}

// values and indices of the max (or min) along dim d of a contiguous tensor. NaN wins, as in PyTorch.
template <bool IsMax>
void extreme_along(const Tensor& c, int64_t d, Tensor& values, Tensor& indices) {
  DimBlocks b = blocks(c.sizes(), d);
  if (b.n == 0) throw Error("cannot reduce over a zero-size dimension");
  int64_t* ip = indices.data_ptr<int64_t>();
  dispatch_all(c.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* p = reinterpret_cast<const T*>(c.raw_data());
    T* vp = reinterpret_cast<T*>(values.raw_data());
    for (int64_t o = 0; o < b.outer; ++o)
      for (int64_t i = 0; i < b.inner; ++i) {
        const T* base = p + o * b.n * b.inner + i;
        T best = base[0];
        int64_t bi = 0;
        for (int64_t k = 1; k < b.n; ++k) {
          if constexpr (std::is_floating_point_v<T>) {
            if (std::isnan(best)) break;
          }
          T v = base[k * b.inner];
          bool better;
          if constexpr (std::is_floating_point_v<T>)
            better = std::isnan(v) || (IsMax ? v > best : v < best);
          else
            better = IsMax ? v > best : v < best;
          if (better) {
            best = v;
            bi = k;
          }
        }
        vp[o * b.inner + i] = best;
        ip[o * b.inner + i] = bi;
      }
  });
}

template <bool IsMax>
ValuesIndices extreme(const Tensor& a, int64_t dim, bool keepdim) {
  int64_t d = maybe_wrap_dim(dim, a.dim());
  Tensor c = a.contiguous();
  Shape in = a.sizes();
  if (in.empty()) in = {1};
  std::vector<bool> mask(in.size(), false);
  mask[d] = true;
  Shape os = reduced_shape(in, mask, keepdim);
  if (a.dim() == 0) os = {};
  Tensor values = make_tensor(os, a.dtype()), indices = make_tensor(os, Dtype::Int64);
  extreme_along<IsMax>(c.reshape(in), d, values, indices);
  if (autograd::compute_requires_grad({&a})) {
    Shape shape = a.sizes();
    Tensor idx = indices;
    auto node = make_node(IsMax ? "MaxBackward0" : "MinBackward0",
        [shape, in, d, idx](const std::vector<Tensor>& g, FunctionNode&) -> std::vector<Tensor> {
          Tensor gc = g[0].contiguous();
          Tensor gi = zeros(in, {gc.dtype()});
          DimBlocks b = blocks(in, d);
          const int64_t* ip = idx.data_ptr<int64_t>();
          dispatch_floating(gc.dtype(), "max_backward", [&](auto tag) {
            using T = decltype(tag);
            const T* gp = gc.data_ptr<T>();
            T* op = gi.data_ptr<T>();
            for (int64_t o = 0; o < b.outer; ++o)
              for (int64_t i = 0; i < b.inner; ++i)
                op[(o * b.n + ip[o * b.inner + i]) * b.inner + i] = gp[o * b.inner + i];
          });
          return {gi.reshape(shape)};
        }, {&a});
    autograd::set_history(values, node);
  }
  return {values, indices};
}

template <bool IsMax>
Tensor extreme_all(const Tensor& a) {
  if (a.numel() == 0)
    throw Error(detail::concat(IsMax ? "max" : "min",
                               "(): Expected reduction dim to be specified for input.numel() == 0. Specify the "
                               "reduction dim with the 'dim' argument."));
  Tensor flat;
  {
    NoGradGuard ng;
    flat = a.reshape({a.numel()});
  }
  ValuesIndices vi;
  {
    NoGradGuard ng;
    vi = extreme<IsMax>(flat, 0, false);
  }
  Tensor out = vi.values;
  if (autograd::compute_requires_grad({&a})) {
    // The gradient is shared evenly among the elements equal to the extreme, as PyTorch does.
    auto node = make_node(IsMax ? "MaxBackward1" : "MinBackward1",
        [](const std::vector<Tensor>& g, FunctionNode& self) -> std::vector<Tensor> {
          Tensor x = self.saved(0), r = self.saved(1);
          Tensor mask = (x == r).to(x.dtype());
          return {mask * (g[0] / mask.sum())};
        }, {&a});
    node->save(a);
    node->save(out, true);
    autograd::set_history(out, node);
  }
  return out;
}

}  // namespace

Tensor sum(const Tensor& a) { return sum(a, {}, false); }

Tensor sum(const Tensor& a, Shape dims, bool keepdim) {
  std::vector<bool> mask = reduce_mask(dims, a.dim());
  Tensor out = sum_values(a, mask, keepdim);
  if (autograd::compute_requires_grad({&a})) {
    Shape in = a.sizes();
    auto node = make_node("SumBackward1",
        [in, mask, keepdim](const std::vector<Tensor>& g, FunctionNode&) -> std::vector<Tensor> {
          return {expand_reduced(g[0], in, mask, keepdim)};
        }, {&a});
    autograd::set_history(out, node);
  }
  return out;
}

Tensor mean(const Tensor& a) { return mean(a, {}, false); }

Tensor mean(const Tensor& a, Shape dims, bool keepdim) {
  if (!is_floating(a.dtype()))
    throw Error("mean(): could not infer output dtype. Input dtype must be either a floating point or complex dtype.");
  std::vector<bool> mask = reduce_mask(dims, a.dim());
  int64_t count = 1;
  for (size_t i = 0; i < mask.size(); ++i)
    if (mask[i]) count *= a.sizes()[i];
  return sum(a, dims, keepdim) / static_cast<double>(count);
}

Tensor var(const Tensor& a, Shape dims, bool unbiased, bool keepdim) {
  std::vector<bool> mask = reduce_mask(dims, a.dim());
  int64_t count = 1;
  for (size_t i = 0; i < mask.size(); ++i)
    if (mask[i]) count *= a.sizes()[i];
  Tensor centered = a - mean(a, dims, true);
  return sum(centered * centered, dims, keepdim) / static_cast<double>(std::max<int64_t>(count - (unbiased ? 1 : 0), 0));
}

Tensor std(const Tensor& a, Shape dims, bool unbiased, bool keepdim) { return sqrt(var(a, dims, unbiased, keepdim)); }

Tensor amax(const Tensor& a) { return extreme_all<true>(a); }
Tensor amin(const Tensor& a) { return extreme_all<false>(a); }
ValuesIndices max(const Tensor& a, int64_t dim, bool keepdim) { return extreme<true>(a, dim, keepdim); }
ValuesIndices min(const Tensor& a, int64_t dim, bool keepdim) { return extreme<false>(a, dim, keepdim); }

Tensor argmax(const Tensor& a, std::optional<int64_t> dim, bool keepdim) {
  NoGradGuard ng;
  if (!dim) return extreme<true>(a.reshape({a.numel()}), 0, false).indices;
  return extreme<true>(a, *dim, keepdim).indices;
}
Tensor argmin(const Tensor& a, std::optional<int64_t> dim, bool keepdim) {
  NoGradGuard ng;
  if (!dim) return extreme<false>(a.reshape({a.numel()}), 0, false).indices;
  return extreme<false>(a, *dim, keepdim).indices;
}

Tensor sum_to(const Tensor& a, const Shape& shape) {
  if (a.sizes() == shape) return a;
  const Shape& s = a.sizes();
  if (shape.size() > s.size())
    throw Error(detail::concat("sum_to: cannot reduce ", shape_str(s), " to ", shape_str(shape)));
  size_t lead = s.size() - shape.size();
  Shape dims;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i < lead)
      dims.push_back(static_cast<int64_t>(i));
    else if (shape[i - lead] == 1 && s[i] != 1)
      dims.push_back(static_cast<int64_t>(i));
    else if (shape[i - lead] != s[i])
      throw Error(detail::concat("sum_to: cannot reduce ", shape_str(s), " to ", shape_str(shape)));
  }
  if (dims.empty()) return a.reshape(shape);
  return sum(a, dims, true).reshape(shape);
}

}  // namespace actlab
