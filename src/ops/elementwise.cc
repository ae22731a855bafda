// Elementwise arithmetic, comparisons and their gradients.
#include <cmath>

#include "actlab/autograd/grad_mode.h"
#include "actlab/ops/ops.h"
#include "ops/elementwise_impl.h"

namespace actlab {

using autograd::FunctionNode;
using detail::make_node;

namespace {

Tensor as_dtype(const Tensor& t, Dtype d) { return t.dtype() == d ? t : t.to(d); }

// A binary op on the promoted dtype; `f` is a generic lambda over the element type.
template <class F>
Tensor binary_values(const Tensor& a0, const Tensor& b0, const char* name, bool floating_only, F&& f) {
  Dtype common = promote(a0.dtype(), b0.dtype());
  if (floating_only && !is_floating(common)) common = Dtype::Float32;
  Tensor a = as_dtype(a0, common), b = as_dtype(b0, common);
  Tensor out = make_tensor(broadcast_shapes(a.sizes(), b.sizes()), common);
  dispatch_all(common, [&](auto tag) {
    using T = decltype(tag);
    detail::map_binary<T, T, T>(out, a, b, [&](T x, T y) { return static_cast<T>(f(x, y)); });
  });
  (void)name;
  return out;
}

template <class F>
Tensor compare_values(const Tensor& a0, const Tensor& b0, F&& f) {
  Dtype common = promote(a0.dtype(), b0.dtype());
  Tensor a = as_dtype(a0, common), b = as_dtype(b0, common);
  Tensor out = make_tensor(broadcast_shapes(a.sizes(), b.sizes()), Dtype::Bool);
  dispatch_all(common, [&](auto tag) {
    using T = decltype(tag);
    detail::map_binary<bool, T, T>(out, a, b, [&](T x, T y) { return static_cast<bool>(f(x, y)); });
  });
  return out;
}

// A unary op that keeps a floating dtype (integers become float32, as torch.exp on a LongTensor).
template <class F>
Tensor unary_float_values(const Tensor& a0, F&& f) {
  Tensor a = is_floating(a0.dtype()) ? a0 : a0.to(Dtype::Float32);
  Tensor out = make_tensor(a.sizes(), a.dtype());
  dispatch_floating(a.dtype(), "unary op", [&](auto tag) {
    using T = decltype(tag);
    detail::map_unary<T, T>(out, a, [&](T x) { return static_cast<T>(f(x)); });
  });
  return out;
}

Dtype scalar_result_dtype(const Tensor& a, double s) {
  if (is_floating(a.dtype())) return a.dtype();
  return (std::floor(s) == s && std::isfinite(s)) ? (a.dtype() == Dtype::Bool ? Dtype::Int64 : a.dtype())
                                                  : Dtype::Float32;
}

template <class F>
Tensor scalar_values(const Tensor& a0, double s, F&& f) {
  Dtype d = scalar_result_dtype(a0, s);
  Tensor a = as_dtype(a0, d);
  Tensor out = make_tensor(a.sizes(), d);
  dispatch_all(d, [&](auto tag) {
    using T = decltype(tag);
    detail::map_unary<T, T>(out, a, [&](T x) { return static_cast<T>(f(x, static_cast<T>(s))); });
  });
  return out;
}

Tensor sign_of(const Tensor& a) {
  return unary_float_values(a, [](auto x) { return x > 0 ? 1 : (x < 0 ? -1 : 0); });
}

}  // namespace

// ---- binary ------------------------------------------------------------------------------------------------
Tensor add(const Tensor& a, const Tensor& b, double alpha) {
  Tensor out = alpha == 1.0 ? binary_values(a, b, "add", false, [](auto x, auto y) { return x + y; })
                            : binary_values(a, b, "add", false, [alpha](auto x, auto y) {
                                return x + static_cast<decltype(x)>(alpha) * y; });
  if (autograd::compute_requires_grad({&a, &b})) {
    Shape as = a.sizes(), bs = b.sizes();
    auto node = make_node(alpha == 1.0 ? "AddBackward0" : "AddBackward0",
        [as, bs, alpha](const std::vector<Tensor>& g, FunctionNode&) -> std::vector<Tensor> {
          return {sum_to(g[0], as), sum_to(alpha == 1.0 ? g[0] : g[0] * alpha, bs)};
        }, {&a, &b});
    autograd::set_history(out, node);
  }
  return out;
}

Tensor sub(const Tensor& a, const Tensor& b, double alpha) {
  Tensor out = binary_values(a, b, "sub", false,
                             [alpha](auto x, auto y) { return x - static_cast<decltype(x)>(alpha) * y; });
  if (autograd::compute_requires_grad({&a, &b})) {
    Shape as = a.sizes(), bs = b.sizes();
    auto node = make_node("SubBackward0",
        [as, bs, alpha](const std::vector<Tensor>& g, FunctionNode&) -> std::vector<Tensor> {
          return {sum_to(g[0], as), sum_to(g[0] * -alpha, bs)};
        }, {&a, &b});
    autograd::set_history(out, node);
  }
  return out;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = binary_values(a, b, "mul", false, [](auto x, auto y) { return x * y; });
  if (autograd::compute_requires_grad({&a, &b})) {
    Shape as = a.sizes(), bs = b.sizes();
    bool ga = a.requires_grad(), gb = b.requires_grad();
    auto node = make_node("MulBackward0",
        [as, bs, ga, gb](const std::vector<Tensor>& g, FunctionNode& self) -> std::vector<Tensor> {
          Tensor sa = self.saved(0), sb = self.saved(1);
          return {ga ? sum_to(g[0] * sb, as) : Tensor(), gb ? sum_to(g[0] * sa, bs) : Tensor()};
        }, {&a, &b});
    node->save(a);
    node->save(b);
    autograd::set_history(out, node);
  }
  return out;
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = binary_values(a, b, "div", true, [](auto x, auto y) { return x / y; });
  if (autograd::compute_requires_grad({&a, &b})) {
    Shape as = a.sizes(), bs = b.sizes();
    bool gb = b.requires_grad();
    auto node = make_node("DivBackward0",
        [as, bs, gb](const std::vector<Tensor>& g, FunctionNode& self) -> std::vector<Tensor> {
          Tensor sa = self.saved(0), sb = self.saved(1);
          return {sum_to(g[0] / sb, as), gb ? sum_to(-g[0] * sa / (sb * sb), bs) : Tensor()};
        }, {&a, &b});
    node->save(a);
    node->save(b);
    autograd::set_history(out, node);
  }
  return out;
}

Tensor maximum(const Tensor& a, const Tensor& b) {
  Tensor out = binary_values(a, b, "maximum", false, [](auto x, auto y) {
    if constexpr (std::is_floating_point_v<decltype(x)>) {
      if (std::isnan(x) || std::isnan(y)) return std::isnan(x) ? x : y;
    }
    return x > y ? x : y;
  });
  if (autograd::compute_requires_grad({&a, &b})) {
    Shape as = a.sizes(), bs = b.sizes();
    auto node = make_node("MaximumBackward0",
        [as, bs](const std::vector<Tensor>& g, FunctionNode& self) -> std::vector<Tensor> {
          Tensor sa = self.saved(0), sb = self.saved(1);
          Tensor half = where(sa == sb, g[0] * 0.5, g[0]);
          Tensor z = zeros_like(half);
          return {sum_to(where(sa < sb, z, half), as), sum_to(where(sb < sa, z, half), bs)};
        }, {&a, &b});
    node->save(a);
    node->save(b);
    autograd::set_history(out, node);
  }
  return out;
}

Tensor minimum(const Tensor& a, const Tensor& b) {
  Tensor out = binary_values(a, b, "minimum", false, [](auto x, auto y) {
    if constexpr (std::is_floating_point_v<decltype(x)>) {
      if (std::isnan(x) || std::isnan(y)) return std::isnan(x) ? x : y;
    }
    return x < y ? x : y;
  });
  if (autograd::compute_requires_grad({&a, &b})) {
    Shape as = a.sizes(), bs = b.sizes();
    auto node = make_node("MinimumBackward0",
        [as, bs](const std::vector<Tensor>& g, FunctionNode& self) -> std::vector<Tensor> {
          Tensor sa = self.saved(0), sb = self.saved(1);
          Tensor half = where(sa == sb, g[0] * 0.5, g[0]);
          Tensor z = zeros_like(half);
          return {sum_to(where(sa > sb, z, half), as), sum_to(where(sb > sa, z, half), bs)};
        }, {&a, &b});
    node->save(a);
    node->save(b);
    autograd::set_history(out, node);
  }
  return out;
}

Tensor pow(const Tensor& a, const Tensor& e) {
  Tensor out = binary_values(a, e, "pow", true, [](auto x, auto y) { return std::pow(x, y); });
  if (autograd::compute_requires_grad({&a, &e})) {
    Shape as = a.sizes(), es = e.sizes();
    bool ge = e.requires_grad();
    auto node = make_node("PowBackward1",
        [as, es, ge](const std::vector<Tensor>& g, FunctionNode& self) -> std::vector<Tensor> {
          Tensor sa = self.saved(0), se = self.saved(1), r = self.saved(2);
          Tensor ga = where(se == 0.0, zeros_like(g[0]), g[0] * se * pow(sa, se - 1.0));
          Tensor gexp;
          if (ge) gexp = sum_to(where((sa == 0.0) & (se >= 0.0), zeros_like(g[0]), g[0] * r * log(sa)), es);
          return {sum_to(ga, as), gexp};
        }, {&a, &e});
    node->save(a);
    node->save(e);
    node->save(out, true);
    autograd::set_history(out, node);
  }
  return out;
}

Tensor where(const Tensor& cond, const Tensor& a0, const Tensor& b0) {
  if (cond.dtype() != Dtype::Bool) throw Error("where expected condition to be a boolean tensor");
  Dtype common = promote(a0.dtype(), b0.dtype());
  Tensor a = as_dtype(a0, common), b = as_dtype(b0, common);
  Shape os = broadcast_shapes(cond.sizes(), broadcast_shapes(a.sizes(), b.sizes()));
  Tensor out = make_tensor(os, common);
  Shape cs = broadcast_strides(cond.sizes(), cond.strides(), os);
  Shape as = broadcast_strides(a.sizes(), a.strides(), os);
  Shape bs = broadcast_strides(b.sizes(), b.strides(), os);
  Shape outs = out.strides();
  const bool* cp = cond.data_ptr<bool>();
  dispatch_all(common, [&](auto tag) {
    using T = decltype(tag);
    const T* ap = reinterpret_cast<const T*>(a.raw_data());
    const T* bp = reinterpret_cast<const T*>(b.raw_data());
    T* op = reinterpret_cast<T*>(out.raw_data());
    for_each_offsets<4>(os, {&outs, &cs, &as, &bs},
                        [&](const std::array<int64_t, 4>& o) { op[o[0]] = cp[o[1]] ? ap[o[2]] : bp[o[3]]; });
  });
  if (autograd::compute_requires_grad({&a0, &b0})) {
    Shape a_shape = a0.sizes(), b_shape = b0.sizes();
    Tensor c = cond;
    auto node = make_node("WhereBackward0",
        [a_shape, b_shape, c](const std::vector<Tensor>& g, FunctionNode&) -> std::vector<Tensor> {
          Tensor z = zeros_like(g[0]);
          return {sum_to(where(c, g[0], z), a_shape), sum_to(where(c, z, g[0]), b_shape)};
        }, {&a0, &b0});
    autograd::set_history(out, node);
  }
  return out;
}

// ---- scalar ------------------------------------------------------------------------------------------------
Tensor add(const Tensor& a, double s) {
  Tensor out = scalar_values(a, s, [](auto x, auto y) { return x + y; });
  if (autograd::compute_requires_grad({&a})) {
    auto node = make_node("AddBackward1",
        [](const std::vector<Tensor>& g, FunctionNode&) -> std::vector<Tensor> { return {g[0]}; }, {&a});
    autograd::set_history(out, node);
  }
  return out;
}

Tensor mul(const Tensor& a, double s) {
  Tensor out = scalar_values(a, s, [](auto x, auto y) { return x * y; });
  if (autograd::compute_requires_grad({&a})) {
    auto node = make_node("MulBackward1",
        [s](const std::vector<Tensor>& g, FunctionNode&) -> std::vector<Tensor> { return {g[0] * s}; }, {&a});
    autograd::set_history(out, node);
  }
  return out;
}

Tensor rsub(const Tensor& a, double s) {
  Tensor out = scalar_values(a, s, [](auto x, auto y) { return y - x; });
  if (autograd::compute_requires_grad({&a})) {
    auto node = make_node("RsubBackward1",
        [](const std::vector<Tensor>& g, FunctionNode&) -> std::vector<Tensor> { return {-g[0]}; }, {&a});
    autograd::set_history(out, node);
  }
  return out;
}

Tensor rdiv(const Tensor& a, double s) {
  Tensor af = is_floating(a.dtype()) ? a : a.to(Dtype::Float32);
  Tensor out = scalar_values(af, s, [](auto x, auto y) { return y / x; });
  if (autograd::compute_requires_grad({&a})) {
    auto node = make_node("DivBackward0",
        [s](const std::vector<Tensor>& g, FunctionNode& self) -> std::vector<Tensor> {
          Tensor x = self.saved(0);
          return {-g[0] * s / (x * x)};
        }, {&a});
    node->save(af);
    autograd::set_history(out, node);
  }
  return out;
}

// ---- unary -------------------------------------------------------------------------------------------------
Tensor neg(const Tensor& a) {
  Tensor out = scalar_values(a, -1.0, [](auto x, auto) { return -x; });
  if (autograd::compute_requires_grad({&a})) {
    auto node = make_node("NegBackward0",
        [](const std::vector<Tensor>& g, FunctionNode&) -> std::vector<Tensor> { return {-g[0]}; }, {&a});
    autograd::set_history(out, node);
  }
  return out;
}

Tensor exp(const Tensor& a) {
  Tensor out = unary_float_values(a, [](auto x) { return std::exp(x); });
  if (autograd::compute_requires_grad({&a})) {
    auto node = make_node("ExpBackward0",
        [](const std::vector<Tensor>& g, FunctionNode& self) -> std::vector<Tensor> {
          return {g[0] * self.saved(0)};
        }, {&a});
    node->save(out, true);
    autograd::set_history(out, node);
  }
  return out;
}

Tensor log(const Tensor& a) {
  Tensor out = unary_float_values(a, [](auto x) { return std::log(x); });
  if (autograd::compute_requires_grad({&a})) {
    auto node = make_node("LogBackward0",
        [](const std::vector<Tensor>& g, FunctionNode& self) -> std::vector<Tensor> {
          return {g[0] / self.saved(0)};
        }, {&a});
    node->save(a);
    autograd::set_history(out, node);
  }
  return out;
}

Tensor sqrt(const Tensor& a) {
  Tensor out = unary_float_values(a, [](auto x) { return std::sqrt(x); });
  if (autograd::compute_requires_grad({&a})) {
    auto node = make_node("SqrtBackward0",
        [](const std::vector<Tensor>& g, FunctionNode& self) -> std::vector<Tensor> {
          return {g[0] / (self.saved(0) * 2.0)};
        }, {&a});
    node->save(out, true);
    autograd::set_history(out, node);
  }
  return out;
}

Tensor abs(const Tensor& a) {
  Tensor out = scalar_values(a, 0.0, [](auto x, auto) {
    if constexpr (std::is_same_v<decltype(x), bool>)
      return x;  // |false| = false, |true| = true (and no bool < 0 comparison, which GCC warns of)
    else
      return x < 0 ? -x : x;
  });
  if (autograd::compute_requires_grad({&a})) {
    auto node = make_node("AbsBackward0",
        [](const std::vector<Tensor>& g, FunctionNode& self) -> std::vector<Tensor> {
          return {g[0] * sign_of(self.saved(0))};
        }, {&a});
    node->save(a);
    autograd::set_history(out, node);
  }
  return out;
}

Tensor pow(const Tensor& a, double e) {
  Tensor af = is_floating(a.dtype()) ? a : a.to(Dtype::Float32);
  Tensor out;
  if (e == 2.0)
    out = unary_float_values(af, [](auto x) { return x * x; });
  else if (e == 0.5)
    out = unary_float_values(af, [](auto x) { return std::sqrt(x); });
  else
    out = unary_float_values(af, [e](auto x) { return std::pow(x, static_cast<decltype(x)>(e)); });
  if (autograd::compute_requires_grad({&a})) {
    auto node = make_node("PowBackward0",
        [e](const std::vector<Tensor>& g, FunctionNode& self) -> std::vector<Tensor> {
          if (e == 0.0) return {zeros_like(g[0])};
          Tensor x = self.saved(0);
          return {g[0] * (pow(x, e - 1.0) * e)};
        }, {&a});
    node->save(af);
    autograd::set_history(out, node);
  }
  return out;
}

Tensor clamp(const Tensor& a, std::optional<double> lo, std::optional<double> hi) {
  if (!lo && !hi) throw Error("torch.clamp: At least one of 'min' or 'max' must not be None");
  double l = lo.value_or(-INFINITY), h = hi.value_or(INFINITY);
  Tensor out = scalar_values(a, 0.0, [l, h](auto x, auto) {
    using T = decltype(x);
    if constexpr (std::is_floating_point_v<T>) {
      if (std::isnan(x)) return x;
    }
    T r = x;
    if (static_cast<double>(r) < l) r = static_cast<T>(l);
    if (static_cast<double>(r) > h) r = static_cast<T>(h);
    return r;
  });
  if (autograd::compute_requires_grad({&a})) {
    auto node = make_node("ClampBackward1",
        [l, h](const std::vector<Tensor>& g, FunctionNode& self) -> std::vector<Tensor> {
          Tensor x = self.saved(0);
          return {where((x >= l) & (x <= h), g[0], zeros_like(g[0]))};
        }, {&a});
    node->save(a);
    autograd::set_history(out, node);
  }
  return out;
}

Tensor isnan(const Tensor& a) {
  Tensor out = make_tensor(a.sizes(), Dtype::Bool);
  dispatch_all(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    detail::map_unary<bool, T>(out, a, [](T x) {
      if constexpr (std::is_floating_point_v<T>) return std::isnan(x);
      return false;
    });
  });
  return out;
}
Tensor isinf(const Tensor& a) {
  Tensor out = make_tensor(a.sizes(), Dtype::Bool);
  dispatch_all(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    detail::map_unary<bool, T>(out, a, [](T x) {
      if constexpr (std::is_floating_point_v<T>) return std::isinf(x);
      return false;
    });
  });
  return out;
}
Tensor isfinite(const Tensor& a) {
  Tensor out = make_tensor(a.sizes(), Dtype::Bool);
  dispatch_all(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    detail::map_unary<bool, T>(out, a, [](T x) {
      if constexpr (std::is_floating_point_v<T>) return std::isfinite(x);
      return true;
    });
  });
  return out;
}

// ---- comparisons -------------------------------------------------------------------------------------------
#define ACTLAB_COMPARISON(name, op)                                                                         \
  Tensor name(const Tensor& a, const Tensor& b) { return compare_values(a, b, [](auto x, auto y) { return x op y; }); } \
  Tensor name(const Tensor& a, double b) {                                                                   \
    return compare_values(a, scalar_tensor(b, {is_floating(a.dtype()) ? a.dtype() : Dtype::Float64}),        \
                          [](auto x, auto y) { return x op y; });                                            \
  }                                                                                                          \
  Tensor operator op(const Tensor& a, const Tensor& b) { return name(a, b); }                                \
  Tensor operator op(const Tensor& a, double b) { return name(a, b); }
ACTLAB_COMPARISON(eq, ==)
ACTLAB_COMPARISON(ne, !=)
ACTLAB_COMPARISON(lt, <)
ACTLAB_COMPARISON(le, <=)
ACTLAB_COMPARISON(gt, >)
ACTLAB_COMPARISON(ge, >=)
#undef ACTLAB_COMPARISON

Tensor operator&(const Tensor& a, const Tensor& b) {
  if (a.dtype() != Dtype::Bool || b.dtype() != Dtype::Bool) throw Error("& is defined for bool tensors");
  return compare_values(a, b, [](auto x, auto y) { return x && y; });
}
Tensor operator|(const Tensor& a, const Tensor& b) {
  if (a.dtype() != Dtype::Bool || b.dtype() != Dtype::Bool) throw Error("| is defined for bool tensors");
  return compare_values(a, b, [](auto x, auto y) { return x || y; });
}
Tensor operator~(const Tensor& a) {
  if (a.dtype() != Dtype::Bool) throw Error("~ is defined for bool tensors");
  Tensor out = make_tensor(a.sizes(), Dtype::Bool);
  detail::map_unary<bool, bool>(out, a, [](bool x) { return !x; });
  return out;
}

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& a, double b) { return add(a, b); }
Tensor operator-(const Tensor& a, double b) { return add(a, -b); }
Tensor operator*(const Tensor& a, double b) { return mul(a, b); }
Tensor operator/(const Tensor& a, double b) {
  Tensor af = is_floating(a.dtype()) ? a : a.to(Dtype::Float32);
  Tensor out = scalar_values(af, b, [](auto x, auto y) { return x / y; });
  if (autograd::compute_requires_grad({&a})) {
    auto node = make_node("DivBackward1",
        [b](const std::vector<Tensor>& g, FunctionNode&) -> std::vector<Tensor> { return {g[0] / b}; }, {&a});
    autograd::set_history(out, node);
  }
  return out;
}
Tensor operator+(double a, const Tensor& b) { return add(b, a); }
Tensor operator-(double a, const Tensor& b) { return rsub(b, a); }
Tensor operator*(double a, const Tensor& b) { return mul(b, a); }
Tensor operator/(double a, const Tensor& b) { return rdiv(b, a); }
Tensor operator-(const Tensor& a) { return neg(a); }

}  // namespace actlab
