// Internal: dtype dispatch and strided iteration.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "actlab/core/tensor.h"

namespace actlab {

// f(T{}) for the tensor's element type T.
template <class F>
void dispatch_all(Dtype d, F&& f) {
  switch (d) {
    case Dtype::Float32: f(float{}); return;
    case Dtype::Float64: f(double{}); return;
    case Dtype::Int64: f(int64_t{}); return;
    case Dtype::Bool: f(bool{}); return;
  }
}

template <class F>
void dispatch_floating(Dtype d, const char* op, F&& f) {
  switch (d) {
    case Dtype::Float32: f(float{}); return;
    case Dtype::Float64: f(double{}); return;
    default:
      throw Error(detail::concat("\"", op, "\" not implemented for '", d == Dtype::Int64 ? "Long" : "Bool", "'"));
  }
}

// Calls f(offset) for every element, offsets in elements, in index (row-major) order.
template <class F>
void for_each_offset(const Shape& sizes, const Shape& strides, F&& f) {
  const size_t nd = sizes.size();
  for (int64_t s : sizes)
    if (s == 0) return;
  if (nd == 0) {
    f(int64_t{0});
    return;
  }
  std::vector<int64_t> idx(nd, 0);
  const int64_t inner = sizes[nd - 1], inner_stride = strides[nd - 1];
  int64_t base = 0;
  while (true) {
    for (int64_t k = 0, off = base; k < inner; ++k, off += inner_stride) f(off);
    size_t d = nd - 1;
    while (true) {
      if (d == 0) return;
      --d;
      base += strides[d];
      if (++idx[d] < sizes[d]) break;
      base -= strides[d] * sizes[d];
      idx[d] = 0;
    }
  }
}

// Calls f(o0, o1, ..., oN-1) with per-operand element offsets for every index of `sizes`; each operand
// has its own strides over the same sizes (0 for a broadcast dim).
template <size_t N, class F>
void for_each_offsets(const Shape& sizes, const std::array<const Shape*, N>& strides, F&& f) {
  const size_t nd = sizes.size();
  for (int64_t s : sizes)
    if (s == 0) return;
  std::array<int64_t, N> off{};
  if (nd == 0) {
    f(off);
    return;
  }
  std::vector<int64_t> idx(nd, 0);
  const int64_t inner = sizes[nd - 1];
  std::array<int64_t, N> istr;
  for (size_t k = 0; k < N; ++k) istr[k] = (*strides[k])[nd - 1];
  while (true) {
    std::array<int64_t, N> o = off;
    for (int64_t i = 0; i < inner; ++i) {
      f(o);
      for (size_t k = 0; k < N; ++k) o[k] += istr[k];
    }
    size_t d = nd - 1;
    while (true) {
      if (d == 0) return;
      --d;
      for (size_t k = 0; k < N; ++k) off[k] += (*strides[k])[d];
      if (++idx[d] < sizes[d]) break;
      for (size_t k = 0; k < N; ++k) off[k] -= (*strides[k])[d] * sizes[d];
      idx[d] = 0;
    }
  }
}

// Strides of a tensor with `sizes`/`strides` broadcast to `out` (0 where broadcast).
inline Shape broadcast_strides(const Shape& sizes, const Shape& strides, const Shape& out) {
  Shape r(out.size(), 0);
  size_t lead = out.size() - sizes.size();
  for (size_t i = 0; i < sizes.size(); ++i) r[lead + i] = sizes[i] == 1 ? 0 : strides[i];
  return r;
}

}  // namespace actlab
