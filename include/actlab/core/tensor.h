// actlab::Tensor: a strided n-dimensional array with PyTorch's semantics (views share storage, in-place ops
// bump a version counter shared by all views) and reverse-mode autograd.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actlab/core/dtype.h"
#include "actlab/core/error.h"

namespace actlab {

namespace autograd {
class Node;
class AccumulateGrad;
}  // namespace autograd

using Shape = std::vector<int64_t>;

// Raw memory from the caching allocator, plus the version counter that every view of it shares.
struct Storage {
  void* data = nullptr;
  size_t nbytes = 0;
  uint32_t version = 0;
  explicit Storage(size_t nbytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

struct TensorImpl;

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool is_same(const Tensor& o) const { return impl_ == o.impl_; }

  // ---- metadata ------------------------------------------------------------------------------------
  int64_t dim() const;
  const Shape& sizes() const;
  const Shape& shape() const { return sizes(); }
  int64_t size(int64_t d) const;
  const Shape& strides() const;
  int64_t stride(int64_t d) const;
  int64_t numel() const;
  int64_t storage_offset() const;
  Dtype dtype() const;
  bool is_contiguous() const;
  bool is_floating_point() const { return is_floating(dtype()); }
  template <class T> T* data_ptr() const;  // checks the dtype
  void* raw_data() const;                   // address of element 0 of this view
  template <class T> T item() const;        // one-element tensor's value, converted
  double item() const { return item<double>(); }
  uint32_t _version() const;
  bool shares_storage(const Tensor& o) const;

  // ---- autograd ------------------------------------------------------------------------------------
  bool requires_grad() const;
  Tensor& requires_grad_(bool on = true);
  Tensor grad() const;                      // undefined if none; shares the gradient's storage
  void set_grad(const Tensor& g);
  bool is_leaf() const;
  std::shared_ptr<autograd::Node> grad_fn() const;
  uint32_t output_nr() const;
  void retain_grad();
  bool retains_grad() const;
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false) const;
  Tensor detach() const;
  Tensor& detach_();
  // A hook run on this tensor's gradient during backward; it may return a replacement (or undefined).
  void register_hook(std::function<Tensor(const Tensor&)> hook);

  // ---- views -------------------------------------------------------------------------------------------
  Tensor view(Shape shape) const;
  Tensor reshape(Shape shape) const;
  Tensor permute(Shape dims) const;
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor t() const;
  Tensor squeeze() const;
  Tensor squeeze(int64_t d) const;
  Tensor unsqueeze(int64_t d) const;
  Tensor narrow(int64_t d, int64_t start, int64_t length) const;
  Tensor select(int64_t d, int64_t index) const;
  Tensor slice(int64_t d, std::optional<int64_t> start, std::optional<int64_t> end, int64_t step = 1) const;
  Tensor operator[](int64_t index) const { return select(0, index); }
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor expand(Shape shape) const;
  Tensor expand_as(const Tensor& o) const { return expand(o.sizes()); }
  Tensor view_as(const Tensor& o) const { return view(o.sizes()); }
  Tensor contiguous() const;
  Tensor clone() const;
  Tensor to(Dtype d) const;
  Tensor chunk_half(int64_t dim, int which) const;  // narrow to the first (0) or second (1) half

  // ---- in-place ------------------------------------------------------------------------------------
  Tensor& copy_(const Tensor& src);
  Tensor& fill_(double v);
  Tensor& zero_();
  Tensor& add_(const Tensor& o, double alpha = 1.0);
  Tensor& add_(double v);
  Tensor& sub_(const Tensor& o, double alpha = 1.0) { return add_(o, -alpha); }
  Tensor& mul_(const Tensor& o);
  Tensor& mul_(double v);
  Tensor& div_(const Tensor& o);
  Tensor& div_(double v);
  Tensor& clamp_(std::optional<double> min, std::optional<double> max);
  Tensor& addcmul_(const Tensor& a, const Tensor& b, double value = 1.0);
  Tensor& addcdiv_(const Tensor& a, const Tensor& b, double value = 1.0);
  Tensor& sqrt_();
  Tensor& exp_();

  // ---- math (methods forward to the free functions in ops/) ------------------------------------------
  Tensor add(const Tensor& o, double alpha = 1.0) const;
  Tensor sub(const Tensor& o, double alpha = 1.0) const;
  Tensor mul(const Tensor& o) const;
  Tensor div(const Tensor& o) const;
  Tensor neg() const;
  Tensor exp() const;
  Tensor log() const;
  Tensor sqrt() const;
  Tensor abs() const;
  Tensor pow(double e) const;
  Tensor clamp(std::optional<double> min, std::optional<double> max) const;
  Tensor sum() const;
  Tensor sum(Shape dims, bool keepdim = false) const;
  Tensor mean() const;
  Tensor mean(Shape dims, bool keepdim = false) const;
  Tensor max() const;
  Tensor min() const;
  Tensor max(int64_t dim, bool keepdim = false) const;  // values only; see max_with_indices
  Tensor min(int64_t dim, bool keepdim = false) const;
  Tensor argmax(std::optional<int64_t> dim = std::nullopt, bool keepdim = false) const;
  Tensor argmin(std::optional<int64_t> dim = std::nullopt, bool keepdim = false) const;
  Tensor var(bool unbiased = true) const;
  Tensor var(Shape dims, bool unbiased = true, bool keepdim = false) const;
  Tensor std(bool unbiased = true) const;
  Tensor std(Shape dims, bool unbiased = true, bool keepdim = false) const;
  Tensor matmul(const Tensor& o) const;
  Tensor eq(const Tensor& o) const;
  Tensor ne(const Tensor& o) const;
  Tensor lt(const Tensor& o) const;
  Tensor le(const Tensor& o) const;
  Tensor gt(const Tensor& o) const;
  Tensor ge(const Tensor& o) const;
  bool equal(const Tensor& o) const;  // same shape and values (torch.equal)
  bool allclose(const Tensor& o, double rtol = 1e-5, double atol = 1e-8, bool equal_nan = false) const;
  std::vector<double> to_vector() const;  // every element, in index order, converted to double

  std::string to_string() const;  // PyTorch's repr: tensor([...], requires_grad=True)

 private:
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// ---- creation ---------------------------------------------------------------------------------------
struct TensorOptions {
  Dtype dtype = Dtype::Float32;
  bool requires_grad = false;
};

// Nested initializer lists, as torch.tensor([[1, 2], [3, 4]]).
class NestedList {
 public:
  NestedList(double v) : value_(v), scalar_(true) {}  // NOLINT: implicit by design
  NestedList(std::initializer_list<NestedList> l) : items_(l) {}
  void flatten(Shape& shape, std::vector<double>& values, size_t depth = 0) const;

 private:
  double value_ = 0;
  bool scalar_ = false;
  std::vector<NestedList> items_;
};

Tensor tensor(NestedList values, TensorOptions o = {});
// A tensor from float values with a shape ({} means 1-D of values.size()).
Tensor from_vector(const std::vector<float>& values, Shape shape = {}, TensorOptions o = {});
Tensor scalar_tensor(double v, TensorOptions o = {});
Tensor from_data(const std::vector<double>& values, Shape shape, TensorOptions o = {});
Tensor empty(Shape shape, TensorOptions o = {});
Tensor zeros(Shape shape, TensorOptions o = {});
Tensor ones(Shape shape, TensorOptions o = {});
Tensor full(Shape shape, double value, TensorOptions o = {});
Tensor arange(double end, TensorOptions o = {});
Tensor arange(double start, double end, double step = 1.0, TensorOptions o = {});
Tensor linspace(double start, double end, int64_t steps, TensorOptions o = {});
Tensor empty_like(const Tensor& t);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, double value);
Tensor rand_like(const Tensor& t);
Tensor randn_like(const Tensor& t);

// ---- random (a seeded generator, as torch.manual_seed) -------------------------------------------------
class Generator {
 public:
  explicit Generator(uint64_t seed = 67280421310721ULL) { manual_seed(seed); }
  void manual_seed(uint64_t seed);
  uint64_t initial_seed() const { return seed_; }
  uint64_t next_u64();
  double next_double();  // uniform in [0, 1)
  float next_float();    // uniform in [0, 1)
  double next_normal();  // standard normal
  struct State { uint64_t s[4]; uint64_t seed; bool has_spare; double spare; };
  State get_state() const;
  void set_state(const State& s);

 private:
  uint64_t s_[4]{};
  uint64_t seed_ = 0;
  bool has_spare_ = false;
  double spare_ = 0;
};
Generator& default_generator();
void manual_seed(uint64_t seed);

Tensor rand(Shape shape, TensorOptions o = {}, Generator* g = nullptr);
Tensor randn(Shape shape, TensorOptions o = {}, Generator* g = nullptr);
Tensor randint(int64_t low, int64_t high, Shape shape, Generator* g = nullptr);
Tensor randperm(int64_t n, Generator* g = nullptr);

// ---- threads ------------------------------------------------------------------------------------------
void set_num_threads(int n);
int get_num_threads();

// ---- shape helpers ------------------------------------------------------------------------------------
int64_t maybe_wrap_dim(int64_t dim, int64_t ndim);
int64_t shape_numel(const Shape& s);
std::string shape_str(const Shape& s);  // "[2, 3]"
Shape contiguous_strides(const Shape& s);
Shape broadcast_shapes(const Shape& a, const Shape& b);

}  // namespace actlab
