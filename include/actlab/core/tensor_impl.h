// The state behind a Tensor handle. Public so that ops and modules outside the core can reach it, but
// ordinary users never need it.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "actlab/core/tensor.h"

namespace actlab {

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;  // in elements
  Shape sizes;
  Shape strides;
  int64_t numel = 0;
  Dtype dtype = Dtype::Float32;
  bool is_contiguous = true;

  // autograd
  bool requires_grad = false;  // set on leaves; a tensor with grad_fn requires grad implicitly
  std::shared_ptr<TensorImpl> grad;
  std::shared_ptr<autograd::Node> grad_fn;
  uint32_t output_nr = 0;
  std::weak_ptr<autograd::AccumulateGrad> grad_accumulator;
  bool retains_grad = false;
  bool is_view = false;       // created by a view op from a tensor that requires grad
  bool view_of_leaf = false;  // ... and that tensor was a leaf
  // Every view op's result (with or without grad): the tensor whose storage it looks into (never itself a
  // view), and the storage version when its history was last set. An in-place op on a view records
  // CopySlices on this base; a view whose storage changed since gets AsStridedBackward0 of the base as its
  // history when it is next used (autograd::refresh_view_history), as in PyTorch.
  std::shared_ptr<TensorImpl> view_base;
  uint32_t view_version = 0;
  std::vector<std::function<Tensor(const Tensor&)>> leaf_hooks;

  void refresh();  // recompute numel and is_contiguous from sizes and strides
  char* data_bytes() const { return static_cast<char*>(storage->data) + offset * element_size(dtype); }
};

// A new impl sharing `base`'s storage with the given geometry (no autograd state).
std::shared_ptr<TensorImpl> make_view_impl(const TensorImpl& base, Shape sizes, Shape strides, int64_t offset);
// A new contiguous tensor with fresh storage from the caching allocator (uninitialized).
Tensor make_tensor(Shape sizes, Dtype dtype);

// Caching allocator statistics (for tests and the bench).
struct AllocatorStats {
  size_t allocated_bytes;  // live
  size_t cached_bytes;     // freed but kept for reuse
  uint64_t system_allocations;
};
AllocatorStats allocator_stats();
void empty_cache();

}  // namespace actlab
