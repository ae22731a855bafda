// F.batch_norm forward and backward over dim 1 of [N, C, *], one channel per parallel iteration. Sums run in
// 32 independent lanes per segment (vectorizable without reassociation) and are carried in double.
// The per-segment loops are compiled for AVX2 + FMA besides the baseline (ACTLAB_TARGET_CLONES, chosen at
// load time); the lane order is the same in both, so only the fused multiply-adds can differ.
#include <cmath>
#include <cstring>
#include <vector>

#include "actlab/autograd/grad_mode.h"
#include "actlab/dist/process_group.h"
#include "actlab/nn/functional_layers.h"
#include "actlab/ops/ops.h"
#include "core/parallel.h"
#include "ops/elementwise_impl.h"
#include "ops/target_clones.h"

namespace actlab {
namespace {

using autograd::FunctionNode;

// Sums run in 32 lanes of T: four independent 8-lane vectors (one 8-lane accumulator was a single dependency
// chain, a vector add per 8 values, and left the loops latency-bound), written out as GCC vectors because the
// auto-vectorizer shuffled the two interleaved lane arrays of lane_dot_centered. The lane order is the same on
// every target.
template <class T>
struct Lanes8;
template <>
struct Lanes8<float> {
  typedef float type __attribute__((vector_size(32)));
};
template <>
struct Lanes8<double> {
  typedef double type __attribute__((vector_size(64)));
};

// Vectors pass by reference: these inline into each target's clone, and no vector crosses a call boundary.
template <class T, class V = typename Lanes8<T>::type>
__attribute__((always_inline)) inline void load8(V& v, const T* p) {
  std::memcpy(&v, p, sizeof v);
}

// The four accumulators folded in a fixed tree, then the 8 lanes summed in double.
template <class V>
__attribute__((always_inline)) inline double sum32(const V (&v)[4]) {
  const V f = (v[0] + v[1]) + (v[2] + v[3]);
  double s = 0;
  for (int l = 0; l < 8; ++l) s += f[l];
  return s;
}

// Runs step(k, i) for i = 0, 8, ... over the 8-lane blocks of [0, n) with accumulator k = (i / 8) % 4 and
// returns where the blocks end.
template <class Step>
__attribute__((always_inline)) inline int64_t each_block8(int64_t n, Step step) {
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    step(0, i);
    step(1, i + 8);
    step(2, i + 16);
    step(3, i + 24);
  }
  for (int k = 0; i + 8 <= n; i += 8, ++k) step(k, i);
  return i;
}

template <class T>
ACTLAB_TARGET_CLONES double lane_sum(const T* p, int64_t n) {
  typename Lanes8<T>::type lanes[4] = {};
  int64_t i = each_block8(n, [&](int k, int64_t at) {
    typename Lanes8<T>::type v;
    load8(v, p + at);
    lanes[k] += v;
  });
  double s = sum32(lanes);
  for (; i < n; ++i) s += p[i];
  return s;
}

template <class T>
ACTLAB_TARGET_CLONES double lane_sq_centered(const T* p, int64_t n, T m) {
  typename Lanes8<T>::type lanes[4] = {};
  int64_t i = each_block8(n, [&](int k, int64_t at) {
    typename Lanes8<T>::type d;
    load8(d, p + at);
    d -= m;
    lanes[k] += d * d;
  });
  double s = sum32(lanes);
  for (; i < n; ++i) s += double(p[i] - m) * double(p[i] - m);
  return s;
}

// With a ReLU after the normalization (batch_norm_relu): the normalized value x * alpha + beta, computed the same
// way in forward and backward (the same expression in the same clone, so the same bits), and the gradient with
// the ReLU's mask (zero where the normalized value is <= 0, as ReLU's backward reads its output; NaN passes).
struct ReluAfter {
  bool on = false;
  double alpha = 1, beta = 0;
};
// (Results by reference: a vector returned by value changes the ABI between the clones, which GCC warns of.)
template <class V, class T>
__attribute__((always_inline)) inline void normalize(V& x, T alpha, T beta) {
  x = x * alpha + beta;
}
template <class V, class T>
__attribute__((always_inline)) inline void relu_mask(V& g, V x, T alpha, T beta) {
  normalize(x, alpha, beta);
  g = x <= 0 ? V{} : g;
}

// sum(g) and sum(g * (x - m)), g through the ReLU's mask when Relu.
template <bool Relu, class T>
ACTLAB_TARGET_CLONES void lane_dot_centered(const T* g, const T* x, int64_t n, T m, T alpha, T beta, double& sg,
                                            double& sgx) {
  typename Lanes8<T>::type a[4] = {}, b[4] = {};
  int64_t i = each_block8(n, [&](int k, int64_t at) {
    typename Lanes8<T>::type gv, xv;
    load8(gv, g + at);
    load8(xv, x + at);
    if constexpr (Relu) relu_mask(gv, xv, alpha, beta);
    a[k] += gv;
    b[k] += gv * (xv - m);
  });
  double sa = sum32(a), sb = sum32(b);
  for (; i < n; ++i) {
    T gi = g[i];
    if constexpr (Relu) relu_mask(gi, x[i], alpha, beta);
    sa += gi;
    sb += double(gi) * double(x[i] - m);
  }
  sg += sa;
  sgx += sb;
}

// y = x * alpha + beta; with Relu, max(y, 0) as ReLU (y < 0 ? 0 : y: NaN and -0.0 pass through).
template <bool Relu, class T>
ACTLAB_TARGET_CLONES void affine(const T* x, T* y, int64_t n, T alpha, T beta) {
  int64_t i = each_block8(n, [&](int, int64_t at) {
    typename Lanes8<T>::type v;
    load8(v, x + at);
    normalize(v, alpha, beta);
    if constexpr (Relu) v = v < 0 ? typename Lanes8<T>::type{} : v;
    std::memcpy(y + at, &v, sizeof v);
  });
  for (; i < n; ++i) {
    T v = x[i];
    normalize(v, alpha, beta);
    y[i] = Relu && v < 0 ? T(0) : v;
  }
}

// The input gradient of batch statistics: o = (g - gmean - (x - mu) * proj) * k, g through the ReLU's mask
// when Relu.
template <bool Relu, class T>
ACTLAB_TARGET_CLONES void batch_stat_grad(const T* g, const T* x, T* o, int64_t n, T gmean, T mu, T proj, T k,
                                          T alpha, T beta) {
  int64_t i = each_block8(n, [&](int, int64_t at) {
    typename Lanes8<T>::type gv, xv;
    load8(gv, g + at);
    load8(xv, x + at);
    if constexpr (Relu) relu_mask(gv, xv, alpha, beta);
    const typename Lanes8<T>::type v = (gv - gmean - (xv - mu) * proj) * k;
    std::memcpy(o + at, &v, sizeof v);
  });
  for (; i < n; ++i) {
    T gi = g[i];
    if constexpr (Relu) relu_mask(gi, x[i], alpha, beta);
    o[i] = (gi - gmean - (x[i] - mu) * proj) * k;
  }
}

// Evaluation mode's input gradient: o = g * k, g through the ReLU's mask when Relu.
template <bool Relu, class T>
ACTLAB_TARGET_CLONES void scaled_grad(const T* g, const T* x, T* o, int64_t n, T k, T alpha, T beta) {
  for (int64_t i = 0; i < n; ++i) {
    T gi = g[i];
    if constexpr (Relu) relu_mask(gi, x[i], alpha, beta);
    o[i] = gi * k;
  }
}

template <class T>
const T* cptr(const Tensor& t) {
  return t.defined() ? reinterpret_cast<const T*>(t.raw_data()) : nullptr;
}

void check_channels(const Tensor& t, const char* name, int64_t C) {
  if (t.defined() && t.numel() != C)
    throw ValueError(detail::concat(name, " should contain ", C, " elements not ", t.numel()));
}

}  // namespace

namespace {

// Runs f(std::integral_constant<bool, relu>).
template <class F>
void with_relu(bool relu, F&& f) {
  if (relu)
    f(std::true_type{});
  else
    f(std::false_type{});
}

Tensor batch_norm_impl(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                       const Tensor& weight, const Tensor& bias, bool training, double momentum, double eps,
                       dist::ProcessGroup* sync, bool relu) {
  if (!input.defined()) throw ValueError("batch_norm: input must be a defined tensor");
  if (input.dim() < 2)
    throw ValueError(detail::concat("batch_norm: expected input with at least 2 dimensions, got input of size ",
                                    shape_str(input.sizes())));
  if (!input.is_floating_point())
    throw ValueError(detail::concat("\"batch_norm\" not implemented for '", input.dtype() == kInt64 ? "Long" : "Bool",
                                    "'"));
  const int64_t N = input.size(0), C = input.size(1);
  const int64_t S = C == 0 ? 0 : input.numel() / std::max<int64_t>(N * C, 1);
  const int64_t M = N * S;  // values per channel
  check_channels(running_mean, "running_mean", C);
  check_channels(running_var, "running_var", C);
  check_channels(weight, "weight", C);
  check_channels(bias, "bias", C);
  for (const Tensor* t : {&weight, &bias})
    if (t->defined() && t->dtype() != input.dtype())
      throw ValueError(detail::concat("expected scalar type ", dtype_name(input.dtype()), " but found ",
                                      dtype_name(t->dtype())));
  const bool use_batch = training || !running_mean.defined() || !running_var.defined();
  if (!training && (!running_mean.defined() || !running_var.defined()))
    throw ValueError("running_mean must be defined in evaluation mode");
  if (training && M == 1)
    throw ValueError(detail::concat("Expected more than 1 value per channel when training, got input size ",
                                    shape_str(input.sizes())));

  Tensor x = input.contiguous();
  Tensor w = weight.defined() ? weight.contiguous() : Tensor();
  Tensor b = bias.defined() ? bias.contiguous() : Tensor();
  Tensor out = make_tensor(input.sizes(), input.dtype());
  std::vector<double> mean(C, 0.0), invstd(C, 0.0), var(C, 0.0);
  std::vector<double> alphas(C, 0.0), betas(C, 0.0);  // y = x * alpha + beta per channel, in T
  // SyncBatchNorm: the statistics of all ranks' values together (M_all of them per channel).
  const bool synced = training && sync != nullptr && sync->size() > 1;
  double M_all = double(M);

  dispatch_floating(input.dtype(), "batch_norm", [&](auto tag) {
    using T = decltype(tag);
    const T* xp = cptr<T>(x);
    const T* wp = cptr<T>(w);
    const T* bp = cptr<T>(b);
    T* yp = reinterpret_cast<T*>(out.raw_data());
    std::vector<double> rm, rv;
    if (!use_batch) {
      rm = running_mean.to_vector();
      rv = running_var.to_vector();
    }
    if (synced) {
      // Two passes as below, each followed by an all-reduce: the sums (and the count), then the squares
      // centered on the global mean.
      std::vector<double> s(C + 1, 0.0);
      detail::parallel_for(C, M * C > 16384, [&](int64_t c, int) {
        for (int64_t n = 0; n < N; ++n) s[c] += lane_sum(xp + (n * C + c) * S, S);
      });
      s[C] = double(M);
      sync->allreduce_sum(s.data(), s.size());
      M_all = s[C];
      for (int64_t c = 0; c < C; ++c) mean[c] = M_all > 0 ? s[c] / M_all : NAN;
      detail::parallel_for(C, M * C > 16384, [&](int64_t c, int) {
        var[c] = 0;
        for (int64_t n = 0; n < N; ++n) var[c] += lane_sq_centered(xp + (n * C + c) * S, S, static_cast<T>(mean[c]));
      });
      sync->allreduce_sum(var.data(), var.size());
      for (int64_t c = 0; c < C; ++c) var[c] = M_all > 0 ? var[c] / M_all : NAN;
    }
    detail::parallel_for(C, M * C > 16384, [&](int64_t c, int) {
      double mu, is;
      if (synced) {
        mu = mean[c];
        is = 1.0 / std::sqrt(var[c] + eps);
      } else if (use_batch) {
        double s = 0;
        for (int64_t n = 0; n < N; ++n) s += lane_sum(xp + (n * C + c) * S, S);
        mu = M > 0 ? s / double(M) : NAN;
        double q = 0;
        for (int64_t n = 0; n < N; ++n) q += lane_sq_centered(xp + (n * C + c) * S, S, static_cast<T>(mu));
        var[c] = M > 0 ? q / double(M) : NAN;
        mean[c] = mu;
        is = 1.0 / std::sqrt(var[c] + eps);
      } else {
        mu = rm[c];
        is = 1.0 / std::sqrt(rv[c] + eps);
        mean[c] = mu;
      }
      invstd[c] = is;
      const T alpha = static_cast<T>(is * (wp ? double(wp[c]) : 1.0));
      const T beta = static_cast<T>((bp ? double(bp[c]) : 0.0) - mu * double(alpha));
      alphas[c] = alpha;
      betas[c] = beta;
      with_relu(relu, [&](auto r) {
        for (int64_t n = 0; n < N; ++n)
          affine<decltype(r)::value>(xp + (n * C + c) * S, yp + (n * C + c) * S, S, alpha, beta);
      });
    });
  });

  // Running statistics (in place, outside autograd), with the unbiased variance.
  if (training && running_mean.defined() && running_var.defined() && M > 0) {
    auto update = [&](const Tensor& buf, const std::vector<double>& stat, double corr) {
      Tensor bc = buf;
      dispatch_floating(buf.dtype(), "batch_norm", [&](auto tag) {
        using T = decltype(tag);
        if (buf.is_contiguous()) {
          T* p = reinterpret_cast<T*>(bc.raw_data());
          for (int64_t c = 0; c < C; ++c) p[c] = static_cast<T>((1 - momentum) * double(p[c]) + momentum * stat[c] * corr);
        } else {
          std::vector<double> old = buf.to_vector();
          std::vector<double> nv(C);
          for (int64_t c = 0; c < C; ++c) nv[c] = (1 - momentum) * old[c] + momentum * stat[c] * corr;
          NoGradGuard ng;
          bc.copy_(from_data(nv, buf.sizes(), {buf.dtype()}));
        }
      });
      autograd::bump_version(buf);
    };
    update(running_mean, mean, 1.0);
    update(running_var, var, M_all > 1 ? M_all / (M_all - 1) : INFINITY);
  }

  if (autograd::compute_requires_grad({&input, &weight, &bias})) {
    const bool need_x = input.requires_grad(), need_w = weight.defined() && weight.requires_grad(),
               need_b = bias.defined() && bias.requires_grad(), has_w = weight.defined();
    auto node = detail::make_node(
        relu ? "BatchNormReluBackward0" : "NativeBatchNormBackward0",
        [=](const std::vector<Tensor>& grads, FunctionNode& self) -> std::vector<Tensor> {
          if (!grads[0].defined()) return {Tensor(), Tensor(), Tensor()};
          Tensor xs = self.saved(0);
          Tensor ws = has_w ? self.saved(1).contiguous() : Tensor();
          Tensor gy = grads[0].contiguous();
          Tensor gx = need_x ? make_tensor(xs.sizes(), xs.dtype()) : Tensor();
          Tensor gw = need_w ? make_tensor({C}, xs.dtype()) : Tensor();
          Tensor gb = need_b ? make_tensor({C}, xs.dtype()) : Tensor();
          dispatch_floating(xs.dtype(), "batch_norm_backward", [&](auto tag) {
            using T = decltype(tag);
            const T* xp = cptr<T>(xs);
            const T* gp = cptr<T>(gy);
            const T* wp = cptr<T>(ws);
            T* gxp = need_x ? reinterpret_cast<T*>(gx.raw_data()) : nullptr;
            T* gwp = need_w ? reinterpret_cast<T*>(gw.raw_data()) : nullptr;
            T* gbp = need_b ? reinterpret_cast<T*>(gb.raw_data()) : nullptr;
            // sum(gy) and sum(gy * (x - mu)) of channel c; with sync, the sums over all ranks.
            auto channel_sums = [&](int64_t c, double& sg, double& sgx) {
              const T mu = static_cast<T>(mean[c]), alpha = static_cast<T>(alphas[c]), beta = static_cast<T>(betas[c]);
              with_relu(relu, [&](auto r) {
                for (int64_t n = 0; n < N; ++n)
                  lane_dot_centered<decltype(r)::value>(gp + (n * C + c) * S, xp + (n * C + c) * S, S, mu, alpha,
                                                        beta, sg, sgx);
              });
            };
            std::vector<double> sums;
            if (synced) {
              sums.assign(2 * C, 0.0);
              detail::parallel_for(C, M * C > 16384, [&](int64_t c, int) {
                channel_sums(c, sums[2 * c], sums[2 * c + 1]);
                // The weight and bias gradients are this rank's; data parallelism averages them.
                if (gwp) gwp[c] = static_cast<T>(sums[2 * c + 1] * invstd[c]);
                if (gbp) gbp[c] = static_cast<T>(sums[2 * c]);
              });
              if (gxp) sync->allreduce_sum(sums.data(), sums.size());
            }
            detail::parallel_for(C, M * C > 16384, [&](int64_t c, int) {
              const T mu = static_cast<T>(mean[c]);
              const double is = invstd[c];
              double sg = 0, sgx = 0;
              if (synced) {
                sg = sums[2 * c];
                sgx = sums[2 * c + 1];
              } else {
                channel_sums(c, sg, sgx);
                if (gwp) gwp[c] = static_cast<T>(sgx * is);
                if (gbp) gbp[c] = static_cast<T>(sg);
              }
              if (!gxp) return;
              const double wc = wp ? double(wp[c]) : 1.0;
              const T k = static_cast<T>(is * wc), alpha = static_cast<T>(alphas[c]), beta = static_cast<T>(betas[c]);
              with_relu(relu, [&](auto r) {
                constexpr bool R = decltype(r)::value;
                if (use_batch) {
                  // gx = (gy - mean(gy) - (x - mu) * is^2 * mean(gy * (x - mu))) * is * w
                  const T gmean = static_cast<T>(M_all > 0 ? sg / M_all : 0.0);
                  const T proj = static_cast<T>(M_all > 0 ? sgx / M_all * is * is : 0.0);
                  for (int64_t n = 0; n < N; ++n) {
                    const int64_t at = (n * C + c) * S;
                    batch_stat_grad<R>(gp + at, xp + at, gxp + at, S, gmean, mu, proj, k, alpha, beta);
                  }
                } else {
                  for (int64_t n = 0; n < N; ++n) {
                    const int64_t at = (n * C + c) * S;
                    scaled_grad<R>(gp + at, xp + at, gxp + at, S, k, alpha, beta);
                  }
                }
              });
            });
          });
          return {gx, gw, gb};
        },
        {&input, &weight, &bias});
    node->save(x.is_same(input) ? input : x.detach());
    if (has_w) node->save(weight);
    autograd::set_history(out, node);
  }
  return out;
}

}  // namespace

namespace nn::functional {

Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps, dist::ProcessGroup* sync) {
  return batch_norm_impl(input, running_mean, running_var, weight, bias, training, momentum, eps, sync, false);
}

Tensor batch_norm_relu(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                       const Tensor& weight, const Tensor& bias, bool training, double momentum, double eps,
                       dist::ProcessGroup* sync) {
  return batch_norm_impl(input, running_mean, running_var, weight, bias, training, momentum, eps, sync, true);
}

}  // namespace nn::functional
}  // namespace actlab
