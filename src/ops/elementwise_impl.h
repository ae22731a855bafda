// Internal: strided elementwise loops shared by the ops (contiguous fast paths run on the thread pool).
#pragma once

#include <utility>

#include "actlab/autograd/node.h"
#include "actlab/core/tensor_impl.h"
#include "core/dispatch.h"
#include "core/parallel.h"

namespace actlab::detail {

inline constexpr int64_t kElementwiseParallel = 32768;

// out[i] = f(in[i]) with out a fresh contiguous tensor of in's shape.
template <class Out, class In, class F>
void map_unary(const Tensor& out, const Tensor& in, F&& f) {
  const In* ip = reinterpret_cast<const In*>(in.raw_data());
  Out* op = reinterpret_cast<Out*>(out.raw_data());
  const int64_t n = in.numel();
  if (in.is_contiguous()) {
    parallel_blocks(n, n >= kElementwiseParallel, [&](int64_t b, int64_t e, int) {
      for (int64_t i = b; i < e; ++i) op[i] = f(ip[i]);
    });
    return;
  }
  int64_t k = 0;
  for_each_offset(in.sizes(), in.strides(), [&](int64_t off) { op[k++] = f(ip[off]); });
}

// out = f(a, b) with broadcasting; out is fresh and contiguous with the broadcast shape.
template <class Out, class A, class B, class F>
void map_binary(const Tensor& out, const Tensor& a, const Tensor& b, F&& f) {
  const A* ap = reinterpret_cast<const A*>(a.raw_data());
  const B* bp = reinterpret_cast<const B*>(b.raw_data());
  Out* op = reinterpret_cast<Out*>(out.raw_data());
  const int64_t n = out.numel();
  const Shape& os = out.sizes();
  if (a.is_contiguous() && b.is_contiguous() && a.sizes() == os && b.sizes() == os) {
    parallel_blocks(n, n >= kElementwiseParallel, [&](int64_t b, int64_t e, int) {
      for (int64_t i = b; i < e; ++i) op[i] = f(ap[i], bp[i]);
    });
    return;
  }
  if (a.is_contiguous() && a.sizes() == os && b.numel() == 1) {
    const B bv = *bp;
    parallel_blocks(n, n >= kElementwiseParallel, [&](int64_t b, int64_t e, int) {
      for (int64_t i = b; i < e; ++i) op[i] = f(ap[i], bv);
    });
    return;
  }
  Shape as = broadcast_strides(a.sizes(), a.strides(), os);
  Shape bs = broadcast_strides(b.sizes(), b.strides(), os);
  Shape cs = out.strides();
  for_each_offsets<3>(os, {&cs, &as, &bs}, [&](const std::array<int64_t, 3>& o) { op[o[0]] = f(ap[o[1]], bp[o[2]]); });
}

// self[i] = f(self[i], other[i]) with other broadcast to self's shape; self may be strided.
template <class T, class F>
void map_inplace(const Tensor& self, const Tensor& other, F&& f) {
  T* sp = reinterpret_cast<T*>(self.raw_data());
  const T* op = reinterpret_cast<const T*>(other.raw_data());
  const int64_t n = self.numel();
  if (self.is_contiguous() && other.is_contiguous() && other.sizes() == self.sizes()) {
    parallel_blocks(n, n >= kElementwiseParallel, [&](int64_t b, int64_t e, int) {
      for (int64_t i = b; i < e; ++i) sp[i] = f(sp[i], op[i]);
    });
    return;
  }
  Shape os = broadcast_strides(other.sizes(), other.strides(), self.sizes());
  Shape ss = self.strides();
  for_each_offsets<2>(self.sizes(), {&ss, &os}, [&](const std::array<int64_t, 2>& o) { sp[o[0]] = f(sp[o[0]], op[o[1]]); });
}

// self[i] = f(self[i]), self may be strided.
template <class T, class F>
void apply_inplace(const Tensor& self, F&& f) {
  T* sp = reinterpret_cast<T*>(self.raw_data());
  const int64_t n = self.numel();
  if (self.is_contiguous()) {
    parallel_blocks(n, n >= kElementwiseParallel, [&](int64_t b, int64_t e, int) {
      for (int64_t i = b; i < e; ++i) sp[i] = f(sp[i]);
    });
    return;
  }
  for_each_offset(self.sizes(), self.strides(), [&](int64_t off) { sp[off] = f(sp[off]); });
}

// A node whose backward is a lambda, wired to `inputs`.
template <class F>
std::shared_ptr<autograd::FunctionNode> make_node(std::string name, F&& fn,
                                                  std::initializer_list<const Tensor*> inputs) {
  auto node = std::make_shared<autograd::FunctionNode>(std::move(name), std::forward<F>(fn));
  autograd::set_next_edges(*node, inputs);
  return node;
}

}  // namespace actlab::detail
