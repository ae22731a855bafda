#include <cstring>

#include "actlab/core/npy.h"
#include "actlab/core/tensor_impl.h"
#include "cli/cli.h"

namespace actlab::cli {

Tensor load_npy_tensor(const std::string& path) {
  NpyArray a = read_npy(path);
  Dtype d = a.dtype == NpyDtype::Float32 ? kFloat32 : kFloat64;
  Tensor t = empty(Shape(a.shape.begin(), a.shape.end()), {d});
  if (!a.data.empty()) std::memcpy(t.raw_data(), a.data.data(), a.data.size());
  return t;
}

std::vector<unsigned char> encode_npy_tensor(const Tensor& t0) {
  Tensor t = t0.contiguous();
  if (!is_floating(t.dtype())) throw Error("only float32 and float64 tensors can be written as .npy");
  return encode_npy(t.dtype() == kFloat32 ? NpyDtype::Float32 : NpyDtype::Float64,
                    std::vector<int64_t>(t.sizes().begin(), t.sizes().end()), t.raw_data());
}

}  // namespace actlab::cli
