#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace actlab {

enum class Dtype : uint8_t { Float32, Float64, Int64, Bool };

inline constexpr Dtype kFloat32 = Dtype::Float32;
inline constexpr Dtype kFloat64 = Dtype::Float64;
inline constexpr Dtype kInt64 = Dtype::Int64;
inline constexpr Dtype kBool = Dtype::Bool;

constexpr size_t element_size(Dtype d) {
  switch (d) {
    case Dtype::Float32: return 4;
    case Dtype::Float64: return 8;
    case Dtype::Int64: return 8;
    case Dtype::Bool: return 1;
  }
  return 0;
}
constexpr bool is_floating(Dtype d) { return d == Dtype::Float32 || d == Dtype::Float64; }

// "torch.float32" etc., as PyTorch prints dtypes.
const char* dtype_name(Dtype d);
// "torch.FloatTensor" etc., as PyTorch's autograd error messages name tensor types.
const char* tensor_type_name(Dtype d);

// The dtype of a binary op's result (PyTorch's promotion for same-kind tensors): bool < int64 < float32 < float64.
constexpr Dtype promote(Dtype a, Dtype b) {
  auto rank = [](Dtype d) {
    switch (d) {
      case Dtype::Bool: return 0;
      case Dtype::Int64: return 1;
      case Dtype::Float32: return 2;
      case Dtype::Float64: return 3;
    }
    return 0;
  };
  return rank(a) >= rank(b) ? a : b;
}

template <class T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr Dtype value = Dtype::Float32; };
template <> struct dtype_of<double> { static constexpr Dtype value = Dtype::Float64; };
template <> struct dtype_of<int64_t> { static constexpr Dtype value = Dtype::Int64; };
template <> struct dtype_of<bool> { static constexpr Dtype value = Dtype::Bool; };

}  // namespace actlab
