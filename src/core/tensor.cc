// Tensor metadata, storage access, creation and shape helpers (no autograd here: see ops/ and autograd/).
#include <cmath>
#include <cstring>
#include <omp.h>

#include "actlab/core/tensor_impl.h"
#include "core/dispatch.h"
#include "core/parallel.h"

namespace actlab {

const char* dtype_name(Dtype d) {
  switch (d) {
    case Dtype::Float32: return "torch.float32";
    case Dtype::Float64: return "torch.float64";
    case Dtype::Int64: return "torch.int64";
    case Dtype::Bool: return "torch.bool";
  }
  return "?";
}

const char* tensor_type_name(Dtype d) {
  switch (d) {
    case Dtype::Float32: return "torch.FloatTensor";
    case Dtype::Float64: return "torch.DoubleTensor";
    case Dtype::Int64: return "torch.LongTensor";
    case Dtype::Bool: return "torch.BoolTensor";
  }
  return "?";
}

// ---- shape helpers ----------------------------------------------------------------------------------------
int64_t maybe_wrap_dim(int64_t dim, int64_t ndim) {
  int64_t n = ndim <= 0 ? 1 : ndim;  // a 0-d tensor accepts dims -1 and 0, as PyTorch
  if (dim < -n || dim >= n)
    throw IndexError(detail::concat("Dimension out of range (expected to be in range of [", -n, ", ", n - 1,
                                    "], but got ", dim, ")"));
  return dim < 0 ? dim + n : dim;
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) {
    if (d < 0) throw ValueError(detail::concat("negative dimension ", d, " in shape ", shape_str(s)));
    if (d != 0 && n > INT64_MAX / d) throw ValueError(detail::concat("shape ", shape_str(s), " is too large"));
    n *= d;
  }
  return n;
}

std::string shape_str(const Shape& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) r += ", ";
    r += std::to_string(s[i]);
  }
  return r + "]";
}

Shape contiguous_strides(const Shape& s) {
  Shape st(s.size());
  int64_t acc = 1;
  for (size_t i = s.size(); i-- > 0;) {
    st[i] = acc;
    if (i == 0) break;
    // A shape with a 0 has no elements but still has strides: [0, 2^40, 2^40] would overflow them (found by
    // fuzz_checkpoint, fuzz/corpus/checkpoint/crash-5ebd763b...).
    const int64_t d = std::max<int64_t>(s[i], 1);
    if (acc > INT64_MAX / d) throw ValueError(detail::concat("shape ", shape_str(s), " is too large: its strides overflow"));
    acc *= d;
  }
  return st;
}

Shape broadcast_shapes(const Shape& a, const Shape& b) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1)
      throw ValueError(detail::concat("The size of tensor a (", da, ") must match the size of tensor b (", db,
                                      ") at non-singleton dimension ", i));
    out[i] = da == 1 ? db : da;
  }
  return out;
}

// ---- impl -------------------------------------------------------------------------------------------------
void TensorImpl::refresh() {
  numel = 1;
  for (int64_t d : sizes) numel *= d;
  is_contiguous = true;
  int64_t expected = 1;
  for (size_t i = sizes.size(); i-- > 0;) {
    if (sizes[i] != 1 && strides[i] != expected) {
      is_contiguous = false;
      break;
    }
    expected *= sizes[i];
  }
}

std::shared_ptr<TensorImpl> make_view_impl(const TensorImpl& base, Shape sizes, Shape strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.storage;
  impl->dtype = base.dtype;
  impl->offset = offset;
  impl->sizes = std::move(sizes);
  impl->strides = std::move(strides);
  impl->refresh();
  return impl;
}

Tensor make_tensor(Shape sizes, Dtype dtype) {
  int64_t n = shape_numel(sizes);
  // The byte count must fit the allocator's size arithmetic; beyond that no machine has the memory anyway.
  if (n > INT64_MAX / static_cast<int64_t>(element_size(dtype)))
    throw Error(detail::concat("out of memory: a tensor of shape ", shape_str(sizes), " needs more than 2^63 bytes"));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(static_cast<size_t>(n) * element_size(dtype));
  impl->dtype = dtype;
  impl->strides = contiguous_strides(sizes);
  impl->sizes = std::move(sizes);
  impl->numel = n;
  impl->is_contiguous = true;
  return Tensor(std::move(impl));
}

// ---- metadata ------------------------------------------------------------------------------------------
namespace {
const TensorImpl& checked(const Tensor& t) {
  if (!t.defined()) throw Error("the tensor is undefined");
  return *t.impl();
}
}  // namespace

int64_t Tensor::dim() const { return static_cast<int64_t>(checked(*this).sizes.size()); }
const Shape& Tensor::sizes() const { return checked(*this).sizes; }
int64_t Tensor::size(int64_t d) const { return sizes()[maybe_wrap_dim(d, dim())]; }
const Shape& Tensor::strides() const { return checked(*this).strides; }
int64_t Tensor::stride(int64_t d) const { return strides()[maybe_wrap_dim(d, dim())]; }
int64_t Tensor::numel() const { return checked(*this).numel; }
int64_t Tensor::storage_offset() const { return checked(*this).offset; }
Dtype Tensor::dtype() const { return checked(*this).dtype; }
bool Tensor::is_contiguous() const { return checked(*this).is_contiguous; }
void* Tensor::raw_data() const { return checked(*this).data_bytes(); }
uint32_t Tensor::_version() const { return checked(*this).storage->version; }
bool Tensor::shares_storage(const Tensor& o) const {
  return defined() && o.defined() && impl_->storage == o.impl_->storage;
}

template <class T>
T* Tensor::data_ptr() const {
  const TensorImpl& i = checked(*this);
  if (i.dtype != dtype_of<T>::value)
    throw Error(detail::concat("expected a tensor of dtype ", dtype_name(dtype_of<T>::value), " but got ",
                               dtype_name(i.dtype)));
  return reinterpret_cast<T*>(i.data_bytes());
}
template float* Tensor::data_ptr<float>() const;
template double* Tensor::data_ptr<double>() const;
template int64_t* Tensor::data_ptr<int64_t>() const;
template bool* Tensor::data_ptr<bool>() const;

template <class T>
T Tensor::item() const {
  const TensorImpl& i = checked(*this);
  if (i.numel != 1)
    throw ValueError(detail::concat("a Tensor with ", i.numel, " elements cannot be converted to Scalar"));
  T r{};
  dispatch_all(i.dtype, [&](auto tag) {
    using S = decltype(tag);
    r = static_cast<T>(*reinterpret_cast<const S*>(i.data_bytes()));
  });
  return r;
}
template float Tensor::item<float>() const;
template double Tensor::item<double>() const;
template int64_t Tensor::item<int64_t>() const;
template bool Tensor::item<bool>() const;

std::vector<double> Tensor::to_vector() const {
  const TensorImpl& i = checked(*this);
  std::vector<double> out;
  out.reserve(static_cast<size_t>(i.numel));
  dispatch_all(i.dtype, [&](auto tag) {
    using S = decltype(tag);
    for_each_offset(i.sizes, i.strides, [&](int64_t off) {
      out.push_back(static_cast<double>(reinterpret_cast<const S*>(i.data_bytes())[off]));
    });
  });
  return out;
}

// ---- creation ------------------------------------------------------------------------------------------
void NestedList::flatten(Shape& shape, std::vector<double>& values, size_t depth) const {
  if (scalar_) {
    if (depth != shape.size())
      throw ValueError("expected a sequence: nested lists must have the same depth everywhere");
    values.push_back(value_);
    return;
  }
  if (depth == shape.size()) {
    if (!values.empty()) throw ValueError("nested lists must have the same depth everywhere");
    shape.push_back(static_cast<int64_t>(items_.size()));
  } else if (shape[depth] != static_cast<int64_t>(items_.size())) {
    throw ValueError(detail::concat("expected sequence of length ", shape[depth], " at dim ", depth, " (got ",
                                    items_.size(), ")"));
  }
  for (const auto& it : items_) it.flatten(shape, values, depth + 1);
}

Tensor from_data(const std::vector<double>& values, Shape shape, TensorOptions o) {
  int64_t n = shape_numel(shape);
  if (n != static_cast<int64_t>(values.size()))
    throw ValueError(detail::concat("shape ", shape_str(shape), " is invalid for input of size ", values.size()));
  Tensor t = make_tensor(std::move(shape), o.dtype);
  dispatch_all(o.dtype, [&](auto tag) {
    using S = decltype(tag);
    S* p = reinterpret_cast<S*>(t.raw_data());
    for (int64_t k = 0; k < n; ++k) p[k] = static_cast<S>(values[k]);
  });
  if (o.requires_grad) t.requires_grad_(true);
  return t;
}

Tensor tensor(NestedList values, TensorOptions o) {
  Shape shape;
  std::vector<double> flat;
  values.flatten(shape, flat);
  return from_data(flat, std::move(shape), o);
}

Tensor from_vector(const std::vector<float>& values, Shape shape, TensorOptions o) {
  if (shape.empty() && values.size() != 1) shape = {static_cast<int64_t>(values.size())};
  return from_data(std::vector<double>(values.begin(), values.end()), std::move(shape), o);
}

Tensor scalar_tensor(double v, TensorOptions o) { return from_data({v}, {}, o); }

Tensor empty(Shape shape, TensorOptions o) {
  Tensor t = make_tensor(std::move(shape), o.dtype);
  if (o.requires_grad) t.requires_grad_(true);
  return t;
}

Tensor full(Shape shape, double value, TensorOptions o) {
  Tensor t = make_tensor(std::move(shape), o.dtype);
  t.fill_(value);
  if (o.requires_grad) t.requires_grad_(true);
  return t;
}
Tensor zeros(Shape shape, TensorOptions o) { return full(std::move(shape), 0.0, o); }
Tensor ones(Shape shape, TensorOptions o) { return full(std::move(shape), 1.0, o); }

Tensor arange(double end, TensorOptions o) { return arange(0, end, 1, o); }
Tensor arange(double start, double end, double step, TensorOptions o) {
  if (step == 0) throw ValueError("step must be nonzero");
  if (!std::isfinite(start) || !std::isfinite(end)) throw ValueError("unsupported range: arange needs finite ends");
  if ((step > 0 && end < start) || (step < 0 && end > start))
    throw ValueError("upper bound and larger bound inconsistent with step sign");
  auto n = static_cast<int64_t>(std::ceil((end - start) / step));
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = start + static_cast<double>(i) * step;
  return from_data(v, {n}, o);
}

Tensor linspace(double start, double end, int64_t steps, TensorOptions o) {
  if (steps < 0) throw ValueError("number of steps must be non-negative");
  std::vector<double> v(static_cast<size_t>(steps));
  double step = steps > 1 ? (end - start) / static_cast<double>(steps - 1) : 0.0;
  // PyTorch fills the first half from the start and the second half from the end.
  int64_t half = steps / 2;
  for (int64_t i = 0; i < steps; ++i)
    v[i] = i < half ? start + step * static_cast<double>(i) : end - step * static_cast<double>(steps - i - 1);
  return from_data(v, {steps}, o);
}

Tensor empty_like(const Tensor& t) { return make_tensor(t.sizes(), t.dtype()); }
Tensor zeros_like(const Tensor& t) { return zeros(t.sizes(), {t.dtype()}); }
Tensor ones_like(const Tensor& t) { return ones(t.sizes(), {t.dtype()}); }
Tensor full_like(const Tensor& t, double value) { return full(t.sizes(), value, {t.dtype()}); }
Tensor rand_like(const Tensor& t) { return rand(t.sizes(), {t.dtype()}); }
Tensor randn_like(const Tensor& t) { return randn(t.sizes(), {t.dtype()}); }

// ---- threads ------------------------------------------------------------------------------------------
void set_num_threads(int n) {
  if (n < 1) throw ValueError(detail::concat("number of threads must be positive, got ", n));
  if (n > detail::kMaxThreads)
    throw ValueError(detail::concat("number of threads must be at most ", detail::kMaxThreads, ", got ", n));
  omp_set_num_threads(n);  // oneDNN's GEMMs called outside the pool's jobs
  detail::set_max_threads(n);
}
int get_num_threads() { return detail::max_threads(); }

}  // namespace actlab
