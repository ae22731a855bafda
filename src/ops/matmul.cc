// Matrix products. float32 runs oneDNN's sgemm (measured 2.6x faster than OpenBLAS at 512^3 on these
// machines, see DESIGN.md); float64 runs a plain blocked loop (it serves gradient checks, not speed).
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

#include "actlab/autograd/grad_mode.h"
#include "actlab/kernels/control.h"
#include "actlab/ops/ops.h"
#include "core/parallel.h"
#include "ops/elementwise_impl.h"
#include "ops/gemm.h"

namespace actlab {

using autograd::FunctionNode;
using detail::make_node;

std::string gemm_backend() {
  const dnnl_version_t* v = dnnl_version();
  return detail::concat("oneDNN ", v->major, ".", v->minor, ".", v->patch);
}

namespace detail {

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == 0 ? 0.0f : beta * c[i * ldc + j];
    return;
  }
  // oneDNN splits the k (summation) dimension across threads when the output is small, which makes the bits
  // depend on the thread count. Small outputs run on one thread: the same result with 1 or N threads (and
  // threads buy little there anyway). Large outputs are split along m and n, which keeps the sums whole.
  constexpr int64_t kSmallOutput = 64 * 1024;
  // Inside a pool job the thread's OpenMP count is already 1 (core/parallel.h).
  const bool single = m * n < kSmallOutput && omp_get_max_threads() > 1 && !omp_in_parallel();
  const int threads = omp_get_max_threads();
  if (single) omp_set_num_threads(1);
  dnnl_status_t st = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  if (single) omp_set_num_threads(threads);
  if (st != dnnl_success) throw Error(detail::concat("oneDNN sgemm failed with status ", static_cast<int>(st)));
}

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
          const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  parallel_for(m, m * n * k > 1000000, [&](int64_t i, int) {
    for (int64_t j = 0; j < n; ++j) {
      double acc = 0;
      for (int64_t p = 0; p < k; ++p) {
        double av = trans_a ? a[p * lda + i] : a[i * lda + p];
        double bv = trans_b ? b[j * ldb + p] : b[p * ldb + j];
        acc += av * bv;
      }
      c[i * ldc + j] = alpha * acc + (beta == 0 ? 0.0 : beta * c[i * ldc + j]);
    }
  });
}

}  // namespace detail

namespace {

// A 2-D operand as (pointer, leading dimension, transposed) without copying when its layout allows.
template <class T>
const T* gemm_operand(const Tensor& t, Tensor& holder, bool& trans, int64_t& ld) {
  const Shape& s = t.strides();
  if (s[1] == 1 && s[0] >= std::max<int64_t>(t.sizes()[1], 1)) {
    trans = false;
    ld = s[0];
    return reinterpret_cast<const T*>(t.raw_data());
  }
  if (s[0] == 1 && s[1] >= std::max<int64_t>(t.sizes()[0], 1)) {
    trans = true;
    ld = s[1];
    return reinterpret_cast<const T*>(t.raw_data());
  }
  holder = t.contiguous();
  trans = false;
  ld = std::max<int64_t>(t.sizes()[1], 1);
  return reinterpret_cast<const T*>(holder.raw_data());
}

Tensor mm_values(const Tensor& a, const Tensor& b) {
  int64_t m = a.sizes()[0], k = a.sizes()[1], n = b.sizes()[1];
  Tensor out = make_tensor({m, n}, a.dtype());
  dispatch_floating(a.dtype(), "mm", [&](auto tag) {
    using T = decltype(tag);
    Tensor ha, hb;
    bool ta, tb;
    int64_t lda, ldb;
    const T* ap = gemm_operand<T>(a, ha, ta, lda);
    const T* bp = gemm_operand<T>(b, hb, tb, ldb);
    detail::gemm(ta, tb, m, n, k, T(1), ap, lda, bp, ldb, T(0), reinterpret_cast<T*>(out.raw_data()),
                 std::max<int64_t>(n, 1));
  });
  return out;
}

}  // namespace

Tensor mm(const Tensor& a, const Tensor& b) {
  if (a.dim() != 2 || b.dim() != 2)
    throw Error(detail::concat("mm: expected 2-D tensors, got ", a.dim(), "-D and ", b.dim(), "-D"));
  if (a.sizes()[1] != b.sizes()[0])
    throw Error(detail::concat("mat1 and mat2 shapes cannot be multiplied (", a.sizes()[0], "x", a.sizes()[1], " and ",
                               b.sizes()[0], "x", b.sizes()[1], ")"));
  if (a.dtype() != b.dtype())
    throw Error(detail::concat("expected scalar type ", dtype_name(a.dtype()), " but found ", dtype_name(b.dtype())));
  Tensor out = mm_values(a, b);
  if (autograd::compute_requires_grad({&a, &b})) {
    bool ga = a.requires_grad(), gb = b.requires_grad();
    auto node = make_node("MmBackward0",
        [ga, gb](const std::vector<Tensor>& g, FunctionNode& self) -> std::vector<Tensor> {
          Tensor sa = self.saved(0), sb = self.saved(1);
          return {ga ? mm_values(g[0], sb.t()) : Tensor(), gb ? mm_values(sa.t(), g[0]) : Tensor()};
        }, {&a, &b});
    node->save(a);
    node->save(b);
    autograd::set_history(out, node);
  }
  return out;
}

Tensor matmul(const Tensor& a, const Tensor& b) {
  int64_t da = a.dim(), db = b.dim();
  if (da == 0 || db == 0) throw Error("both arguments to matmul need to be at least 1D");
  if (da == 1 && db == 1) {
    if (a.sizes()[0] != b.sizes()[0])
      throw Error(detail::concat("inconsistent tensor size, expected tensor [", a.sizes()[0],
                                 "] and src [", b.sizes()[0], "] to have the same number of elements, but got ",
                                 a.sizes()[0], " and ", b.sizes()[0], " elements respectively"));
    return sum(a * b);
  }
  if (da == 2 && db == 2) return mm(a, b);
  if (da == 1 && db == 2) return mm(a.unsqueeze(0), b).squeeze(0);
  if (da == 2 && db == 1) return mm(a, b.unsqueeze(1)).squeeze(1);
  if (da >= 3 && db <= 2) {
    // Fold the batch into the rows.
    Tensor bb = db == 1 ? b.unsqueeze(1) : b;
    Shape out_shape(a.sizes().begin(), a.sizes().end() - 1);
    Tensor r = mm(a.reshape({-1, a.sizes().back()}), bb);
    if (db == 2) out_shape.push_back(b.sizes()[1]);
    return r.reshape(out_shape);
  }
  // Batched: broadcast the batch dims, then one mm per batch entry.
  Tensor aa = da == 1 ? a.unsqueeze(0) : a;
  Tensor bb = db == 1 ? b.unsqueeze(1) : b;
  Shape ab(aa.sizes().begin(), aa.sizes().end() - 2), bbs(bb.sizes().begin(), bb.sizes().end() - 2);
  Shape batch = broadcast_shapes(ab, bbs);
  int64_t n = aa.sizes()[aa.dim() - 2], k = aa.sizes().back(), m = bb.sizes().back();
  Shape ae = batch, be = batch;
  ae.push_back(n);
  ae.push_back(k);
  be.push_back(bb.sizes()[bb.dim() - 2]);
  be.push_back(m);
  Tensor a3 = aa.expand(ae).reshape({-1, n, k}), b3 = bb.expand(be).reshape({-1, be[be.size() - 2], m});
  std::vector<Tensor> parts;
  for (int64_t i = 0; i < a3.sizes()[0]; ++i) parts.push_back(mm(a3.select(0, i), b3.select(0, i)));
  Tensor r = stack(parts, 0);
  Shape out_shape = batch;
  if (da > 1) out_shape.push_back(n);
  if (db > 1) out_shape.push_back(m);
  return r.reshape(out_shape);
}

}  // namespace actlab
