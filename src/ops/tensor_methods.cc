// Tensor methods: autograd state, views (with their gradients), copies, in-place arithmetic, and the
// methods that forward to the free functions.
#include <cmath>
#include <cstring>

#include "actlab/autograd/grad_mode.h"
#include "actlab/ops/ops.h"
#include "core/parallel.h"
#include "ops/elementwise_impl.h"

namespace actlab {

using autograd::FunctionNode;
using detail::make_node;

// ---- autograd state ------------------------------------------------------------------------------------
bool Tensor::requires_grad() const {
  if (!defined()) return false;
  autograd::refresh_view_history(impl_.get());
  return impl_->requires_grad || impl_->grad_fn != nullptr;
}

Tensor& Tensor::requires_grad_(bool on) {
  if (impl_->grad_fn) {
    if (!on)
      throw Error(
          "you can only change requires_grad flags of leaf variables. If you want to use a computed variable in a "
          "subgraph that doesn't require differentiation use var_no_grad = var.detach().");
    return *this;
  }
  if (on && !is_floating(impl_->dtype))
    throw Error("only Tensors of floating point dtype can require gradients");
  impl_->requires_grad = on;
  return *this;
}

Tensor Tensor::grad() const { return Tensor(impl_->grad); }
void Tensor::set_grad(const Tensor& g) {
  if (g.defined() && g.sizes() != sizes())
    throw Error(detail::concat("assigned grad has data of a different size: ", shape_str(g.sizes()), " vs ",
                               shape_str(sizes())));
  impl_->grad = g.impl_ptr();
}
bool Tensor::is_leaf() const {
  autograd::refresh_view_history(impl_.get());
  return impl_->grad_fn == nullptr;
}
std::shared_ptr<autograd::Node> Tensor::grad_fn() const {
  autograd::refresh_view_history(impl_.get());
  return impl_->grad_fn;
}
uint32_t Tensor::output_nr() const { return impl_->output_nr; }
bool Tensor::retains_grad() const { return impl_->retains_grad; }

void Tensor::retain_grad() {
  if (!requires_grad()) throw Error("can't retain_grad on Tensor that has requires_grad=False");
  if (is_leaf() || impl_->retains_grad) return;
  impl_->retains_grad = true;
  std::weak_ptr<TensorImpl> weak = impl_;
  impl_->grad_fn->add_tensor_pre_hook(impl_->output_nr, [weak](const Tensor& g) -> Tensor {
    auto impl = weak.lock();
    if (!impl || !impl->retains_grad) return Tensor();
    if (!impl->grad)
      impl->grad = g.clone().impl_ptr();
    else
      impl->grad = (Tensor(impl->grad) + g).impl_ptr();
    return Tensor();
  });
}

void Tensor::register_hook(std::function<Tensor(const Tensor&)> hook) {
  if (!requires_grad()) throw Error("cannot register a hook on a tensor that doesn't require gradient");
  if (is_leaf())
    impl_->leaf_hooks.push_back(std::move(hook));
  else
    impl_->grad_fn->add_tensor_pre_hook(impl_->output_nr, std::move(hook));
}

void Tensor::backward(const Tensor& gradient, bool retain_graph) const {
  autograd::run_backward({*this}, {gradient}, retain_graph);
}

Tensor Tensor::detach() const {
  return Tensor(make_view_impl(*impl_, impl_->sizes, impl_->strides, impl_->offset));
}

Tensor& Tensor::detach_() {
  if (impl_->is_view) throw Error("Can't detach views in-place. Use detach() instead.");
  impl_->grad_fn.reset();
  impl_->requires_grad = false;
  return *this;
}

// ---- views -------------------------------------------------------------------------------------------------
namespace {

Tensor make_view(const Tensor& self, Shape sizes, Shape strides, int64_t offset, const char* name,
                 autograd::FunctionNode::Backward backward) {
  Tensor out(make_view_impl(*self.impl(), std::move(sizes), std::move(strides), offset));
  out.impl()->view_base = self.impl()->view_base ? self.impl()->view_base : self.impl_ptr();
  out.impl()->view_version = out.impl()->storage->version;
  if (autograd::compute_requires_grad({&self})) {
    auto node = make_node(name, std::move(backward), {&self});
    autograd::set_history(out, node);
    out.impl()->is_view = true;
    out.impl()->view_of_leaf = self.is_leaf() || self.impl()->view_of_leaf;
  }
  return out;
}

Shape infer_size(Shape shape, int64_t numel) {
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer >= 0) throw Error("only one dimension can be inferred");
      infer = static_cast<int64_t>(i);
    } else if (shape[i] < 0) {
      throw Error(detail::concat("invalid shape dimension ", shape[i]));
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || numel % known != 0)
      throw Error(detail::concat("shape '", shape_str(shape), "' is invalid for input of size ", numel));
    shape[infer] = numel / known;
  } else if (known != numel) {
    throw Error(detail::concat("shape '", shape_str(shape), "' is invalid for input of size ", numel));
  }
  return shape;
}

Tensor reshape_backward(const std::vector<Tensor>& g, const Shape& in) { return g[0].reshape(in); }

}  // namespace

Tensor Tensor::view(Shape shape) const {
  shape = infer_size(std::move(shape), numel());
  if (!is_contiguous())
    throw Error(
        "view size is not compatible with input tensor's size and stride (at least one dimension spans across two "
        "contiguous subspaces). Use .reshape(...) instead.");
  Shape in = sizes();
  Shape st = contiguous_strides(shape);
  return make_view(*this, std::move(shape), std::move(st), storage_offset(), "ViewBackward0",
                   [in](const std::vector<Tensor>& g, FunctionNode&) -> std::vector<Tensor> {
                     return {reshape_backward(g, in)};
                   });
}

Tensor Tensor::reshape(Shape shape) const {
  if (is_contiguous()) return view(std::move(shape));
  return contiguous().view(std::move(shape));
}

Tensor Tensor::permute(Shape dims) const {
  int64_t n = dim();
  if (static_cast<int64_t>(dims.size()) != n)
    throw Error(detail::concat("permute(sparse_coo): number of dimensions in the tensor input does not match the "
                               "length of the desired ordering of dimensions i.e. input.dim() = ",
                               n, " is not equal to len(dims) = ", dims.size()));
  Shape sz(n), st(n), inverse(n);
  std::vector<bool> used(n, false);
  for (int64_t i = 0; i < n; ++i) {
    int64_t d = maybe_wrap_dim(dims[i], n);
    if (used[d]) throw Error("permute(): duplicate dims are not allowed.");
    used[d] = true;
    sz[i] = sizes()[d];
    st[i] = strides()[d];
    inverse[d] = i;
  }
  return make_view(*this, sz, st, storage_offset(), "PermuteBackward0",
                   [inverse](const std::vector<Tensor>& g, FunctionNode&) -> std::vector<Tensor> {
                     return {g[0].permute(inverse)};
                   });
}

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
  int64_t n = dim();
  if (n == 0) return *this;
  d0 = maybe_wrap_dim(d0, n);
  d1 = maybe_wrap_dim(d1, n);
  Shape perm(n);
  for (int64_t i = 0; i < n; ++i) perm[i] = i;
  std::swap(perm[d0], perm[d1]);
  return permute(perm);
}

Tensor Tensor::t() const {
  if (dim() > 2) throw Error(detail::concat("t() expects a tensor with <= 2 dimensions, but self is ", dim(), "D"));
  return dim() < 2 ? *this : transpose(0, 1);
}

Tensor Tensor::squeeze() const {
  Shape sz, st;
  for (int64_t i = 0; i < dim(); ++i)
    if (sizes()[i] != 1) {
      sz.push_back(sizes()[i]);
      st.push_back(strides()[i]);
    }
  Shape in = sizes();
  return make_view(*this, sz, st, storage_offset(), "SqueezeBackward0",
                   [in](const std::vector<Tensor>& g, FunctionNode&) -> std::vector<Tensor> {
                     return {reshape_backward(g, in)};
                   });
}

Tensor Tensor::squeeze(int64_t d) const {
  d = maybe_wrap_dim(d, dim());
  if (dim() == 0 || sizes()[d] != 1) return *this;
  Shape sz = sizes(), st = strides();
  sz.erase(sz.begin() + d);
  st.erase(st.begin() + d);
  Shape in = sizes();
  return make_view(*this, sz, st, storage_offset(), "SqueezeBackward1",
                   [in](const std::vector<Tensor>& g, FunctionNode&) -> std::vector<Tensor> {
                     return {reshape_backward(g, in)};
                   });
}

Tensor Tensor::unsqueeze(int64_t d) const {
  d = maybe_wrap_dim(d, dim() + 1);
  Shape sz = sizes(), st = strides();
  int64_t stride = d < dim() ? sizes()[d] * strides()[d] : 1;
  sz.insert(sz.begin() + d, 1);
  st.insert(st.begin() + d, stride);
  Shape in = sizes();
  return make_view(*this, sz, st, storage_offset(), "UnsqueezeBackward0",
                   [in](const std::vector<Tensor>& g, FunctionNode&) -> std::vector<Tensor> {
                     return {reshape_backward(g, in)};
                   });
}

Tensor Tensor::slice(int64_t d, std::optional<int64_t> start, std::optional<int64_t> end, int64_t step) const {
  if (dim() == 0) throw IndexError("slice() cannot be applied to a 0-dim tensor.");
  d = maybe_wrap_dim(d, dim());
  if (step <= 0) throw ValueError("slice step must be positive");
  int64_t n = sizes()[d];
  int64_t s = start.value_or(0), e = end.value_or(n);
  if (s < 0) s += n;
  if (e < 0) e += n;
  s = std::clamp<int64_t>(s, 0, n);
  e = std::clamp<int64_t>(e, s, n);
  Shape sz = sizes(), st = strides();
  sz[d] = (e - s + step - 1) / step;
  st[d] *= step;
  Shape in = sizes();
  Dtype dt = dtype();
  return make_view(*this, sz, st, storage_offset() + s * strides()[d], "SliceBackward0",
                   [in, dt, d, s, e, step](const std::vector<Tensor>& g, FunctionNode&) -> std::vector<Tensor> {
                     Tensor gi = zeros(in, {g[0].dtype()});
                     gi.slice(d, s, e, step).copy_(g[0]);
                     (void)dt;
                     return {gi};
                   });
}

Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const {
  if (dim() == 0) throw IndexError("narrow() cannot be applied to a 0-dim tensor.");
  d = maybe_wrap_dim(d, dim());
  int64_t n = sizes()[d];
  if (start < 0) start += n;
  if (start < 0 || length < 0 || start > n || start + length > n)
    throw IndexError(detail::concat("start (", start, ") + length (", length, ") exceeds dimension size (", n, ")."));
  return slice(d, start, start + length, 1);
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  if (dim() == 0) throw IndexError("select() cannot be applied to a 0-dim tensor.");
  d = maybe_wrap_dim(d, dim());
  int64_t n = sizes()[d];
  if (index < -n || index >= n)
    throw IndexError(detail::concat("index ", index, " is out of bounds for dimension ", d, " with size ", n));
  if (index < 0) index += n;
  Shape sz = sizes(), st = strides();
  int64_t off = storage_offset() + index * st[d];
  sz.erase(sz.begin() + d);
  st.erase(st.begin() + d);
  Shape in = sizes();
  return make_view(*this, sz, st, off, "SelectBackward0",
                   [in, d, index](const std::vector<Tensor>& g, FunctionNode&) -> std::vector<Tensor> {
                     Tensor gi = zeros(in, {g[0].dtype()});
                     gi.select(d, index).copy_(g[0]);
                     return {gi};
                   });
}

Tensor Tensor::chunk_half(int64_t d, int which) const {
  d = maybe_wrap_dim(d, dim());
  int64_t n = sizes()[d];
  if (n % 2 != 0) throw Error(detail::concat("Halving dimension must be even, but dimension ", d, " is size ", n));
  return narrow(d, which * (n / 2), n / 2);
}

Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const {
  if (dim() == 0) return reshape({1});
  int64_t s = maybe_wrap_dim(start_dim, dim()), e = maybe_wrap_dim(end_dim, dim());
  if (s > e) throw Error("flatten() has invalid args: start_dim cannot come after end_dim");
  Shape shape;
  for (int64_t i = 0; i < s; ++i) shape.push_back(sizes()[i]);
  int64_t m = 1;
  for (int64_t i = s; i <= e; ++i) m *= sizes()[i];
  shape.push_back(m);
  for (int64_t i = e + 1; i < dim(); ++i) shape.push_back(sizes()[i]);
  return reshape(shape);
}

Tensor Tensor::expand(Shape shape) const {
  if (shape.size() < sizes().size())
    throw Error(detail::concat("expand: the number of sizes provided (", shape.size(),
                               ") must be greater or equal to the number of dimensions in the tensor (", dim(), ")"));
  size_t lead = shape.size() - sizes().size();
  Shape st(shape.size(), 0);
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i < lead) {
      if (shape[i] < 0) throw Error("expand: -1 is not allowed in a leading, non-existing dimension");
      continue;
    }
    int64_t have = sizes()[i - lead];
    if (shape[i] == -1) shape[i] = have;
    if (have == shape[i])
      st[i] = strides()[i - lead];
    else if (have == 1)
      st[i] = 0;
    else
      throw Error(detail::concat("The expanded size of the tensor (", shape[i],
                                 ") must match the existing size (", have, ") at non-singleton dimension ", i,
                                 ".  Target sizes: ", shape_str(shape), ".  Tensor sizes: ", shape_str(sizes())));
  }
  Shape in = sizes();
  return make_view(*this, shape, st, storage_offset(), "ExpandBackward0",
                   [in](const std::vector<Tensor>& g, FunctionNode&) -> std::vector<Tensor> {
                     return {sum_to(g[0], in)};
                   });
}

// ---- copies -------------------------------------------------------------------------------------------------
namespace {
// dst (any strides, any dtype) = src (broadcast to dst's shape, any dtype); no autograd.
void copy_values(const Tensor& dst, const Tensor& src) {
  if (dst.dtype() == src.dtype() && dst.is_contiguous() && src.is_contiguous() && dst.sizes() == src.sizes()) {
    // Large copies are split across the threads, as every other elementwise op is.
    const size_t bytes = static_cast<size_t>(dst.numel()) * element_size(dst.dtype());
    char* d = static_cast<char*>(dst.raw_data());
    const char* s = static_cast<const char*>(src.raw_data());
    constexpr size_t kChunk = size_t{1} << 18;
    const auto chunks = static_cast<int64_t>((bytes + kChunk - 1) / kChunk);
    detail::parallel_for(chunks, bytes >= 4 * kChunk, [&](int64_t c, int) {
      size_t begin = static_cast<size_t>(c) * kChunk;
      std::memcpy(d + begin, s + begin, std::min(kChunk, bytes - begin));
    });
    return;
  }
  Shape ds = dst.strides();
  Shape ss = broadcast_strides(src.sizes(), src.strides(), dst.sizes());
  dispatch_all(dst.dtype(), [&](auto dtag) {
    using D = decltype(dtag);
    dispatch_all(src.dtype(), [&](auto stag) {
      using S = decltype(stag);
      D* dp = reinterpret_cast<D*>(dst.raw_data());
      const S* sp = reinterpret_cast<const S*>(src.raw_data());
      for_each_offsets<2>(dst.sizes(), {&ds, &ss},
                          [&](const std::array<int64_t, 2>& o) { dp[o[0]] = static_cast<D>(sp[o[1]]); });
    });
  });
}
}  // namespace

Tensor Tensor::contiguous() const { return is_contiguous() ? *this : clone(); }

Tensor Tensor::clone() const {
  Tensor out = make_tensor(sizes(), dtype());
  copy_values(out, *this);
  if (autograd::compute_requires_grad({this})) {
    auto node = make_node("CloneBackward0",
        [](const std::vector<Tensor>& g, FunctionNode&) -> std::vector<Tensor> { return {g[0]}; }, {this});
    autograd::set_history(out, node);
  }
  return out;
}

Tensor Tensor::to(Dtype d) const {
  if (d == dtype()) return *this;
  Tensor out = make_tensor(sizes(), d);
  copy_values(out, *this);
  if (is_floating(d) && autograd::compute_requires_grad({this})) {
    Dtype orig = dtype();
    auto node = make_node("ToCopyBackward0",
        [orig](const std::vector<Tensor>& g, FunctionNode&) -> std::vector<Tensor> { return {g[0].to(orig)}; },
        {this});
    autograd::set_history(out, node);
  }
  return out;
}

Tensor& Tensor::copy_(const Tensor& src) {
  broadcast_shapes(src.sizes(), sizes());  // checks compatibility
  if (broadcast_shapes(src.sizes(), sizes()) != sizes())
    throw Error(detail::concat("copy_: the source of shape ", shape_str(src.sizes()),
                               " cannot be broadcast to the destination's shape ", shape_str(sizes())));
  autograd::check_inplace(*this);
  // Copy through a temporary when the two overlap in memory and differ in layout.
  Tensor s = (src.shares_storage(*this) && !src.is_same(*this)) ? src.clone().detach() : src;
  copy_values(*this, s);
  autograd::bump_version(*this);
  if (autograd::compute_requires_grad({this, &src})) {
    Shape ss = src.sizes();
    Dtype sd = src.dtype();
    auto node = make_node("CopyBackwards",
        [ss, sd](const std::vector<Tensor>& g, FunctionNode&) -> std::vector<Tensor> {
          return {Tensor(), sum_to(g[0], ss).to(sd)};
        }, {this, &src});
    autograd::rebase_history(*this, node);
  }
  return *this;
}

Tensor& Tensor::fill_(double v) {
  autograd::check_inplace(*this);
  dispatch_all(dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T tv = static_cast<T>(v);
    detail::apply_inplace<T>(*this, [tv](T) { return tv; });
  });
  autograd::bump_version(*this);
  if (autograd::compute_requires_grad({this})) {
    auto node = make_node("FillBackward0",
        [](const std::vector<Tensor>& g, FunctionNode&) -> std::vector<Tensor> { return {Tensor()}; }, {this});
    autograd::rebase_history(*this, node);
  }
  return *this;
}

Tensor& Tensor::zero_() { return fill_(0.0); }

// ---- in-place arithmetic -------------------------------------------------------------------------------------
namespace {

// self = f(self, other) with autograd: grads {g * dself, g * dother} computed by `backward`.
template <class F>
Tensor& inplace_binary(Tensor& self, const Tensor& other0, const char* name, F&& f,
                       autograd::FunctionNode::Backward backward, bool save_self, bool save_other) {
  if (broadcast_shapes(other0.sizes(), self.sizes()) != self.sizes())
    throw Error(detail::concat("output with shape ", shape_str(self.sizes()),
                               " doesn't match the broadcast shape ",
                               shape_str(broadcast_shapes(other0.sizes(), self.sizes()))));
  autograd::check_inplace(self);
  bool record = autograd::compute_requires_grad({&self, &other0});
  std::shared_ptr<FunctionNode> node;
  if (record) {
    node = make_node(name, std::move(backward), {&self, &other0});
    if (save_self) node->save(self.clone().detach());  // the value before the op
    if (save_other) node->save(other0);
  }
  Tensor other = other0.dtype() == self.dtype() ? other0 : other0.to(self.dtype());
  if (other.shares_storage(self) && !other.is_same(self)) other = other.clone().detach();
  dispatch_all(self.dtype(), [&](auto tag) {
    using T = decltype(tag);
    detail::map_inplace<T>(self, other, [&](T a, T b) { return static_cast<T>(f(a, b)); });
  });
  autograd::bump_version(self);
  if (record) autograd::rebase_history(self, node);
  return self;
}

template <class F>
Tensor& inplace_unary(Tensor& self, const char* name, F&& f, autograd::FunctionNode::Backward backward,
                      bool save_self) {
  autograd::check_inplace(self);
  bool record = autograd::compute_requires_grad({&self});
  std::shared_ptr<FunctionNode> node;
  if (record) {
    node = make_node(name, std::move(backward), {&self});
    if (save_self) node->save(self.clone().detach());
  }
  dispatch_all(self.dtype(), [&](auto tag) {
    using T = decltype(tag);
    detail::apply_inplace<T>(self, [&](T a) { return static_cast<T>(f(a)); });
  });
  autograd::bump_version(self);
  if (record) autograd::rebase_history(self, node);
  return self;
}

}  // namespace

Tensor& Tensor::add_(const Tensor& o, double alpha) {
  Shape ss = sizes(), os = o.sizes();
  return inplace_binary(*this, o, "AddBackward0", [alpha](auto a, auto b) { return a + alpha * b; },
      [ss, os, alpha](const std::vector<Tensor>& g, FunctionNode&) -> std::vector<Tensor> {
        return {g[0], sum_to(g[0] * alpha, os)};
      }, false, false);
}

Tensor& Tensor::add_(double v) {
  return inplace_unary(*this, "AddBackward1", [v](auto a) { return a + v; },
      [](const std::vector<Tensor>& g, FunctionNode&) -> std::vector<Tensor> { return {g[0]}; }, false);
}

Tensor& Tensor::mul_(const Tensor& o) {
  Shape os = o.sizes();
  return inplace_binary(*this, o, "MulBackward0", [](auto a, auto b) { return a * b; },
      [os](const std::vector<Tensor>& g, FunctionNode& n) -> std::vector<Tensor> {
        Tensor a = n.saved(0), b = n.saved(1);
        return {g[0] * b, sum_to(g[0] * a, os)};
      }, true, true);
}

Tensor& Tensor::mul_(double v) {
  return inplace_unary(*this, "MulBackward1", [v](auto a) { return a * v; },
      [v](const std::vector<Tensor>& g, FunctionNode&) -> std::vector<Tensor> { return {g[0] * v}; }, false);
}

Tensor& Tensor::div_(const Tensor& o) {
  Shape os = o.sizes();
  return inplace_binary(*this, o, "DivBackward0", [](auto a, auto b) { return a / b; },
      [os](const std::vector<Tensor>& g, FunctionNode& n) -> std::vector<Tensor> {
        Tensor a = n.saved(0), b = n.saved(1);
        return {g[0] / b, sum_to(-g[0] * a / (b * b), os)};
      }, true, true);
}

Tensor& Tensor::div_(double v) {
  return inplace_unary(*this, "DivBackward1", [v](auto a) { return a / v; },
      [v](const std::vector<Tensor>& g, FunctionNode&) -> std::vector<Tensor> { return {g[0] / v}; }, false);
}

Tensor& Tensor::clamp_(std::optional<double> lo, std::optional<double> hi) {
  if (!lo && !hi) throw Error("torch.clamp: At least one of 'min' or 'max' must not be None");
  double l = lo.value_or(-INFINITY), h = hi.value_or(INFINITY);
  return inplace_unary(*this, "ClampBackward1",
      [l, h](auto x) {
        using T = decltype(x);
        if constexpr (std::is_floating_point_v<T>) {
          if (std::isnan(x)) return x;
        }
        double r = static_cast<double>(x);
        return static_cast<T>(r < l ? l : (r > h ? h : r));
      },
      [l, h](const std::vector<Tensor>& g, FunctionNode& n) -> std::vector<Tensor> {
        Tensor x = n.saved(0);
        return {where((x >= l) & (x <= h), g[0], zeros_like(g[0]))};
      }, true);
}

Tensor& Tensor::sqrt_() {
  Tensor r = actlab::sqrt(*this);
  NoGradGuard ng;
  return copy_(r.detach());
}
Tensor& Tensor::exp_() {
  Tensor r = actlab::exp(*this);
  NoGradGuard ng;
  return copy_(r.detach());
}

Tensor& Tensor::addcmul_(const Tensor& a, const Tensor& b, double value) {
  if (autograd::compute_requires_grad({this, &a, &b}))
    throw Error("addcmul_ is provided for optimizers and runs without autograd; call it under NoGradGuard");
  return add_(a * b, value);
}
Tensor& Tensor::addcdiv_(const Tensor& a, const Tensor& b, double value) {
  if (autograd::compute_requires_grad({this, &a, &b}))
    throw Error("addcdiv_ is provided for optimizers and runs without autograd; call it under NoGradGuard");
  return add_(a / b, value);
}

// ---- forwarding methods ----------------------------------------------------------------------------------
Tensor Tensor::add(const Tensor& o, double alpha) const { return actlab::add(*this, o, alpha); }
Tensor Tensor::sub(const Tensor& o, double alpha) const { return actlab::sub(*this, o, alpha); }
Tensor Tensor::mul(const Tensor& o) const { return actlab::mul(*this, o); }
Tensor Tensor::div(const Tensor& o) const { return actlab::div(*this, o); }
Tensor Tensor::neg() const { return actlab::neg(*this); }
Tensor Tensor::exp() const { return actlab::exp(*this); }
Tensor Tensor::log() const { return actlab::log(*this); }
Tensor Tensor::sqrt() const { return actlab::sqrt(*this); }
Tensor Tensor::abs() const { return actlab::abs(*this); }
Tensor Tensor::pow(double e) const { return actlab::pow(*this, e); }
Tensor Tensor::clamp(std::optional<double> lo, std::optional<double> hi) const { return actlab::clamp(*this, lo, hi); }
Tensor Tensor::sum() const { return actlab::sum(*this); }
Tensor Tensor::sum(Shape dims, bool keepdim) const { return actlab::sum(*this, std::move(dims), keepdim); }
Tensor Tensor::mean() const { return actlab::mean(*this); }
Tensor Tensor::mean(Shape dims, bool keepdim) const { return actlab::mean(*this, std::move(dims), keepdim); }
Tensor Tensor::max() const { return actlab::amax(*this); }
Tensor Tensor::min() const { return actlab::amin(*this); }
Tensor Tensor::max(int64_t d, bool keepdim) const { return actlab::max(*this, d, keepdim).values; }
Tensor Tensor::min(int64_t d, bool keepdim) const { return actlab::min(*this, d, keepdim).values; }
Tensor Tensor::argmax(std::optional<int64_t> d, bool keepdim) const { return actlab::argmax(*this, d, keepdim); }
Tensor Tensor::argmin(std::optional<int64_t> d, bool keepdim) const { return actlab::argmin(*this, d, keepdim); }
Tensor Tensor::var(bool unbiased) const { return actlab::var(*this, {}, unbiased, false); }
Tensor Tensor::var(Shape dims, bool unbiased, bool keepdim) const {
  return actlab::var(*this, std::move(dims), unbiased, keepdim);
}
Tensor Tensor::std(bool unbiased) const { return actlab::std(*this, {}, unbiased, false); }
Tensor Tensor::std(Shape dims, bool unbiased, bool keepdim) const {
  return actlab::std(*this, std::move(dims), unbiased, keepdim);
}
Tensor Tensor::matmul(const Tensor& o) const { return actlab::matmul(*this, o); }
Tensor Tensor::eq(const Tensor& o) const { return actlab::eq(*this, o); }
Tensor Tensor::ne(const Tensor& o) const { return actlab::ne(*this, o); }
Tensor Tensor::lt(const Tensor& o) const { return actlab::lt(*this, o); }
Tensor Tensor::le(const Tensor& o) const { return actlab::le(*this, o); }
Tensor Tensor::gt(const Tensor& o) const { return actlab::gt(*this, o); }
Tensor Tensor::ge(const Tensor& o) const { return actlab::ge(*this, o); }

bool Tensor::equal(const Tensor& o) const {
  if (sizes() != o.sizes()) return false;
  std::vector<double> a = to_vector(), b = o.to_vector();
  return a == b;
}

bool Tensor::allclose(const Tensor& o, double rtol, double atol, bool equal_nan) const {
  if (broadcast_shapes(sizes(), o.sizes()) != sizes()) return false;
  Tensor ob = o.expand(sizes());
  std::vector<double> a = to_vector(), b = ob.to_vector();
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) || std::isnan(b[i])) {
      if (!(equal_nan && std::isnan(a[i]) && std::isnan(b[i]))) return false;
      continue;
    }
    if (a[i] == b[i]) continue;
    if (std::fabs(a[i] - b[i]) > atol + rtol * std::fabs(b[i])) return false;
  }
  return true;
}

}  // namespace actlab
