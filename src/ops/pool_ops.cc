// F.max_pool2d, F.avg_pool2d, F.adaptive_avg_pool2d: forward and backward over (image, channel) planes on
// the OpenMP threads, with PyTorch's output-size rule, window clipping and error messages.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "actlab/autograd/grad_mode.h"
#include "actlab/kernels/control.h"
#include "actlab/nn/functional_layers.h"
#include "actlab/ops/ops.h"
#include "core/parallel.h"
#include "kernels/pool_kernels.h"
#include "ops/elementwise_impl.h"

namespace actlab {
namespace {

using autograd::FunctionNode;
using nn::Size2;

// PyTorch's pooling_output_shape.
int64_t pool_out(int64_t in, int64_t k, int64_t pad, int64_t stride, int64_t dil, bool ceil_mode) {
  int64_t num = in + 2 * pad - dil * (k - 1) - 1 + (ceil_mode ? stride - 1 : 0);
  // floor division (num may be negative)
  int64_t q = num >= 0 ? num / stride : -((-num + stride - 1) / stride);
  int64_t out = q + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

struct PoolGeom {
  int64_t planes, H, W, OH, OW, kh, kw, sh, sw, ph, pw, dh, dw;
};

// Validates arguments and computes the geometry; x4 is the 4-D (batched) input.
PoolGeom pool_geom(const Tensor& x4, Size2 k, std::optional<Size2> s, Size2 p, Size2 d, bool ceil_mode,
                   const Shape& orig) {
  Size2 st = s ? *s : k;
  if (k.h <= 0 || k.w <= 0)
    throw ValueError(detail::concat("kernel size should be greater than zero, but got kH: ", k.h, " kW: ", k.w));
  if (st.h <= 0 || st.w <= 0) throw ValueError("stride should not be zero");
  if (d.h <= 0 || d.w <= 0)
    throw ValueError(detail::concat("dilation should be greater than zero, but got dilationH: ", d.h,
                                    " dilationW: ", d.w));
  if (p.h < 0 || p.w < 0) throw ValueError("pad must be non-negative");
  if (p.h > k.h / 2 || p.w > k.w / 2) {
    bool hfail = p.h > k.h / 2;
    throw ValueError(detail::concat("pad should be at most half of kernel size, but got pad=", hfail ? p.h : p.w,
                                    " and kernel_size=", hfail ? k.h : k.w));
  }
  const Shape& is = x4.sizes();
  PoolGeom g{is[0] * is[1], is[2], is[3], pool_out(is[2], k.h, p.h, st.h, d.h, ceil_mode),
             pool_out(is[3], k.w, p.w, st.w, d.w, ceil_mode), k.h, k.w, st.h, st.w, p.h, p.w, d.h, d.w};
  if (g.OH < 1 || g.OW < 1)
    throw ValueError(detail::concat("Given input size: (", is[1], "x", is[2], "x", is[3], "). Calculated output size: (",
                                    is[1], "x", g.OH, "x", g.OW, "). Output size is too small"));
  return g;
}

// Puts a 3-D input into 4-D form; checks rank and emptiness as PyTorch's pool2d_shape_check.
Tensor as_batched(const Tensor& x, bool& unbatched) {
  bool ok = (x.dim() == 3 && x.size(0) != 0 && x.size(1) != 0 && x.size(2) != 0) ||
            (x.dim() == 4 && x.size(1) != 0 && x.size(2) != 0 && x.size(3) != 0);
  if (!ok) throw ValueError("non-empty 3D or 4D (batch mode) tensor expected for input");
  if (!x.is_floating_point())
    throw ValueError(detail::concat("pooling not implemented for '", x.dtype() == kInt64 ? "Long" : "Bool", "'"));
  unbatched = x.dim() == 3;
  return unbatched ? x.unsqueeze(0) : x;
}

// ---- max pool ------------------------------------------------------------------------------------------------
// 2x2 windows with stride 2, all inside the plane.
bool pool_2x2(const PoolGeom& g) {
  return g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 && g.ph == 0 && g.pw == 0 && g.dh == 1 && g.dw == 1 &&
         2 * g.OH <= g.H && 2 * g.OW <= g.W;
}

template <class T>
void max_pool_forward(const T* x, T* y, int64_t* idx, const PoolGeom& g) {
  const int64_t HW = g.H * g.W, OHW = g.OH * g.OW;
  const bool fast2 = pool_2x2(g);
  if constexpr (std::is_same_v<T, float>) {
    if (fast2 && !kernels::reference_kernels())
      return kernels::max_pool_2x2(x, y, idx, nullptr, g.planes, g.H, g.W, g.OH, g.OW);
  }
  detail::parallel_for(g.planes, g.planes * HW > 16384, [&](int64_t pl, int) {
    const T* xp = x + pl * HW;
    T* yp = y + pl * OHW;
    int64_t* ip = idx + pl * OHW;
    if (fast2) {
      // 2x2 windows, all inside the plane: same comparisons (and NaN rule) as the generic loop (float runs
      // the SIMD kernel, kernels::max_pool_2x2, unless reference kernels are selected).
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        const T* r0 = xp + (2 * oh) * g.W;
        const T* r1 = r0 + g.W;
        T* yr = yp + oh * g.OW;
        int64_t* ir = ip + oh * g.OW;
        const int64_t base = 2 * oh * g.W;
        // Branch-free: select on (v > max || v is NaN), in window order, as the generic loop does.
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          const int64_t c = 2 * ow;
          const T a = r0[c], b = r0[c + 1], d = r1[c], e = r1[c + 1];
          T mv = a;
          int64_t mi = base + c;
          bool t = (b > mv) | (b != b);
          mv = t ? b : mv;
          mi = t ? base + c + 1 : mi;
          t = (d > mv) | (d != d);
          mv = t ? d : mv;
          mi = t ? base + g.W + c : mi;
          t = (e > mv) | (e != e);
          mv = t ? e : mv;
          mi = t ? base + g.W + c + 1 : mi;
          yr[ow] = mv;
          ir[ow] = mi;
        }
      }
      return;
    }
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      int64_t h0 = oh * g.sh - g.ph;
      const int64_t h1 = std::min(h0 + (g.kh - 1) * g.dh + 1, g.H);
      while (h0 < 0) h0 += g.dh;
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        int64_t w0 = ow * g.sw - g.pw;
        const int64_t w1 = std::min(w0 + (g.kw - 1) * g.dw + 1, g.W);
        while (w0 < 0) w0 += g.dw;
        int64_t mi = h0 * g.W + w0;
        T mv = -std::numeric_limits<T>::infinity();
        for (int64_t h = h0; h < h1; h += g.dh)
          for (int64_t w = w0; w < w1; w += g.dw) {
            const T v = xp[h * g.W + w];
            if (v > mv || std::isnan(v)) {
              mv = v;
              mi = h * g.W + w;
            }
          }
        yp[oh * g.OW + ow] = mv;
        ip[oh * g.OW + ow] = mi;
      }
    }
  });
}

template <class T>
void max_pool_backward(const T* gy, const int64_t* idx, T* gx, const PoolGeom& g) {
  const int64_t HW = g.H * g.W, OHW = g.OH * g.OW;
  detail::parallel_for(g.planes, g.planes * HW > 16384, [&](int64_t pl, int) {
    T* gp = gx + pl * HW;
    std::fill(gp, gp + HW, T(0));
    const T* gyp = gy + pl * OHW;
    const int64_t* ip = idx + pl * OHW;
    for (int64_t k = 0; k < OHW; ++k) gp[ip[k]] += gyp[k];
  });
}

// ---- avg pool ------------------------------------------------------------------------------------------------
// The input rows/columns an output (oh, ow) averages, clipped to the input, and its divisor: PyTorch's
// window counts the padding (count_include_pad) up to the padded edge; divisor_override replaces it.
struct AvgWindow {
  int64_t h0, h1, w0, w1, divisor;
  bool empty() const { return h1 <= h0 || w1 <= w0; }
};
inline AvgWindow avg_window(const PoolGeom& g, int64_t oh, int64_t ow, bool count_include_pad,
                            std::optional<int64_t> div) {
  int64_t h0 = oh * g.sh - g.ph, w0 = ow * g.sw - g.pw;
  int64_t h1 = std::min(h0 + g.kh, g.H + g.ph), w1 = std::min(w0 + g.kw, g.W + g.pw);
  const int64_t pool = (h1 - h0) * (w1 - w0);
  h0 = std::max<int64_t>(h0, 0);
  w0 = std::max<int64_t>(w0, 0);
  h1 = std::min(h1, g.H);
  w1 = std::min(w1, g.W);
  const int64_t d = div ? *div : count_include_pad ? pool : (h1 - h0) * (w1 - w0);
  return {h0, h1, w0, w1, d};
}

template <class T>
void avg_pool_forward(const T* x, T* y, const PoolGeom& g, bool count_include_pad, std::optional<int64_t> div) {
  const int64_t HW = g.H * g.W, OHW = g.OH * g.OW;
  detail::parallel_for(g.planes, g.planes * HW > 16384, [&](int64_t pl, int) {
    const T* xp = x + pl * HW;
    T* yp = y + pl * OHW;
    for (int64_t oh = 0; oh < g.OH; ++oh)
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        const AvgWindow a = avg_window(g, oh, ow, count_include_pad, div);
        T s = 0;
        for (int64_t h = a.h0; h < a.h1; ++h)
          for (int64_t w = a.w0; w < a.w1; ++w) s += xp[h * g.W + w];
        yp[oh * g.OW + ow] = a.empty() ? T(0) : s / static_cast<T>(a.divisor);
      }
  });
}

template <class T>
void avg_pool_backward(const T* gy, T* gx, const PoolGeom& g, bool count_include_pad, std::optional<int64_t> div) {
  const int64_t HW = g.H * g.W, OHW = g.OH * g.OW;
  detail::parallel_for(g.planes, g.planes * HW > 16384, [&](int64_t pl, int) {
    T* gp = gx + pl * HW;
    std::fill(gp, gp + HW, T(0));
    const T* gyp = gy + pl * OHW;
    for (int64_t oh = 0; oh < g.OH; ++oh)
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        const AvgWindow a = avg_window(g, oh, ow, count_include_pad, div);
        if (a.empty()) continue;
        const T v = gyp[oh * g.OW + ow] / static_cast<T>(a.divisor);
        for (int64_t h = a.h0; h < a.h1; ++h)
          for (int64_t w = a.w0; w < a.w1; ++w) gp[h * g.W + w] += v;
      }
  });
}

// ---- adaptive avg pool -----------------------------------------------------------------------------------------
inline int64_t a_start(int64_t i, int64_t out, int64_t in) { return (i * in) / out; }
inline int64_t a_end(int64_t i, int64_t out, int64_t in) { return ((i + 1) * in + out - 1) / out; }

// x's value, after ReLU (x < 0 ? 0 : x: NaN and -0.0 pass) when Relu.
template <bool Relu, class T>
inline T relu_if(T v) {
  return Relu && v < T(0) ? T(0) : v;
}

// Relu: the pooling of relu(x) (relu_adaptive_avg_pool2d).
template <bool Relu, class T>
void adaptive_forward(const T* x, T* y, int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW) {
  const int64_t HW = H * W, OHW = OH * OW;
  detail::parallel_for(planes, planes * HW > 16384, [&](int64_t pl, int) {
    const T* xp = x + pl * HW;
    T* yp = y + pl * OHW;
    if (OH == 1 && OW == 1) {
      T lanes[8] = {};
      int64_t i = 0;
      for (; i + 8 <= HW; i += 8)
        for (int l = 0; l < 8; ++l) lanes[l] += relu_if<Relu>(xp[i + l]);
      T s = 0;
      for (int l = 0; l < 8; ++l) s += lanes[l];
      for (; i < HW; ++i) s += relu_if<Relu>(xp[i]);
      yp[0] = s / static_cast<T>(HW);
      return;
    }
    for (int64_t oh = 0; oh < OH; ++oh) {
      const int64_t h0 = a_start(oh, OH, H), h1 = a_end(oh, OH, H);
      for (int64_t ow = 0; ow < OW; ++ow) {
        const int64_t w0 = a_start(ow, OW, W), w1 = a_end(ow, OW, W);
        T s = 0;
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) s += relu_if<Relu>(xp[h * W + w]);
        yp[oh * OW + ow] = s / static_cast<T>((h1 - h0) * (w1 - w0));
      }
    }
  });
}

// relu_in: the input of a ReLU before the pooling (relu_adaptive_avg_pool2d): the gradient then goes through
// ReLU's backward mask (zero where relu_in <= 0, as ReLU's own backward reads its output; NaN passes).
template <class T>
void adaptive_backward(const T* gy, const T* relu_in, T* gx, int64_t planes, int64_t H, int64_t W, int64_t OH,
                       int64_t OW) {
  const int64_t HW = H * W, OHW = OH * OW;
  detail::parallel_for(planes, planes * HW > 16384, [&](int64_t pl, int) {
    T* gp = gx + pl * HW;
    const T* gyp = gy + pl * OHW;
    const T* zp = relu_in ? relu_in + pl * HW : nullptr;
    if (OH == 1 && OW == 1) {
      const T v = gyp[0] / static_cast<T>(HW);
      if (zp)
        for (int64_t i = 0; i < HW; ++i) gp[i] = zp[i] <= T(0) ? T(0) : v;
      else
        std::fill(gp, gp + HW, v);
      return;
    }
    std::fill(gp, gp + HW, T(0));
    for (int64_t oh = 0; oh < OH; ++oh) {
      const int64_t h0 = a_start(oh, OH, H), h1 = a_end(oh, OH, H);
      for (int64_t ow = 0; ow < OW; ++ow) {
        const int64_t w0 = a_start(ow, OW, W), w1 = a_end(ow, OW, W);
        const T v = gyp[oh * OW + ow] / static_cast<T>((h1 - h0) * (w1 - w0));
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) gp[h * W + w] += v;
      }
    }
    if (zp)
      for (int64_t i = 0; i < HW; ++i) gp[i] = zp[i] <= T(0) ? T(0) : gp[i];
  });
}

template <class T>
T* dp(const Tensor& t) {
  return reinterpret_cast<T*>(t.raw_data());
}

using nn::functional::PoolWithIndices;
using nn::Size2;

PoolWithIndices max_pool2d_impl(const Tensor& input, Size2 kernel_size, std::optional<Size2> stride, Size2 padding,
                                Size2 dilation, bool ceil_mode, bool with_indices) {
  bool unbatched;
  Tensor x4 = as_batched(input, unbatched);
  PoolGeom g = pool_geom(x4, kernel_size, stride, padding, dilation, ceil_mode, input.sizes());
  Tensor xc = x4.contiguous();
  const int64_t N = x4.size(0), C = x4.size(1);
  Tensor out = make_tensor({N, C, g.OH, g.OW}, input.dtype());
  // When nobody sees the indices, the kernel keeps each winner's place in its window in one byte (a bool
  // tensor's storage), and backward writes every input element from them.
  const bool codes = !with_indices && input.dtype() == kFloat32 && pool_2x2(g) && !kernels::reference_kernels();
  Tensor idx, saved;  // saved: the codes or the indices
  if (codes) {
    saved = make_tensor({out.numel() + kernels::kMaxPoolCodesPad}, kBool);
    if (out.numel() > 0)
      kernels::max_pool_2x2(dp<float>(xc), dp<float>(out), nullptr, reinterpret_cast<uint8_t*>(saved.raw_data()),
                            g.planes, g.H, g.W, g.OH, g.OW);
  } else {
    idx = saved = make_tensor({N, C, g.OH, g.OW}, kInt64);
    if (out.numel() > 0)
      dispatch_floating(input.dtype(), "max_pool2d", [&](auto tag) {
        using T = decltype(tag);
        max_pool_forward<T>(dp<T>(xc), dp<T>(out), dp<int64_t>(idx), g);
      });
  }
  if (autograd::compute_requires_grad({&x4})) {
    Shape xs = x4.sizes();
    auto node = detail::make_node(
        "MaxPool2DWithIndicesBackward0",
        [g, xs, codes](const std::vector<Tensor>& grads, FunctionNode& self) -> std::vector<Tensor> {
          if (!grads[0].defined()) return {Tensor()};
          Tensor gy = grads[0].contiguous(), ix = self.saved(0);
          Tensor gx = make_tensor(xs, gy.dtype());
          if (gx.numel() == 0) return {gx};
          if (codes) {
            kernels::max_pool_2x2_backward(dp<float>(gy), reinterpret_cast<const uint8_t*>(ix.raw_data()),
                                           dp<float>(gx), g.planes, g.H, g.W, g.OH, g.OW);
            return {gx};
          }
          dispatch_floating(gy.dtype(), "max_pool2d_backward", [&](auto tag) {
            using T = decltype(tag);
            max_pool_backward<T>(dp<T>(gy), dp<int64_t>(ix), dp<T>(gx), g);
          });
          return {gx};
        },
        {&x4});
    node->save(saved);
    autograd::set_history(out, node);
  }
  if (unbatched) return {out.squeeze(0), idx.defined() ? idx.squeeze(0) : idx};
  return {out, idx};
}

}  // namespace

namespace nn::functional {

PoolWithIndices max_pool2d_with_indices(const Tensor& input, Size2 kernel_size, std::optional<Size2> stride,
                                        Size2 padding, Size2 dilation, bool ceil_mode) {
  return max_pool2d_impl(input, kernel_size, stride, padding, dilation, ceil_mode, true);
}

Tensor max_pool2d(const Tensor& input, Size2 kernel_size, std::optional<Size2> stride, Size2 padding, Size2 dilation,
                  bool ceil_mode) {
  return max_pool2d_impl(input, kernel_size, stride, padding, dilation, ceil_mode, false).output;
}

Tensor avg_pool2d(const Tensor& input, Size2 kernel_size, std::optional<Size2> stride, Size2 padding, bool ceil_mode,
                  bool count_include_pad, std::optional<int64_t> divisor_override) {
  if (divisor_override && *divisor_override == 0) throw ValueError("divisor must be not zero");
  bool unbatched;
  Tensor x4 = as_batched(input, unbatched);
  PoolGeom g = pool_geom(x4, kernel_size, stride, padding, 1, ceil_mode, input.sizes());
  Tensor xc = x4.contiguous();
  const int64_t N = x4.size(0), C = x4.size(1);
  Tensor out = make_tensor({N, C, g.OH, g.OW}, input.dtype());
  if (out.numel() > 0)
    dispatch_floating(input.dtype(), "avg_pool2d", [&](auto tag) {
      using T = decltype(tag);
      avg_pool_forward<T>(dp<T>(xc), dp<T>(out), g, count_include_pad, divisor_override);
    });
  if (autograd::compute_requires_grad({&x4})) {
    Shape xs = x4.sizes();
    auto node = detail::make_node(
        "AvgPool2DBackward0",
        [g, xs, count_include_pad, divisor_override](const std::vector<Tensor>& grads,
                                                     FunctionNode&) -> std::vector<Tensor> {
          if (!grads[0].defined()) return {Tensor()};
          Tensor gy = grads[0].contiguous();
          Tensor gx = make_tensor(xs, gy.dtype());
          if (gx.numel() == 0) return {gx};
          dispatch_floating(gy.dtype(), "avg_pool2d_backward", [&](auto tag) {
            using T = decltype(tag);
            avg_pool_backward<T>(dp<T>(gy), dp<T>(gx), g, count_include_pad, divisor_override);
          });
          return {gx};
        },
        {&x4});
    autograd::set_history(out, node);
  }
  return unbatched ? out.squeeze(0) : out;
}

}  // namespace nn::functional

namespace {

// adaptive_avg_pool2d, of relu(input) when relu (one pass and one autograd node).
Tensor adaptive_avg_pool2d_impl(const Tensor& input, std::optional<int64_t> out_h, std::optional<int64_t> out_w,
                                bool relu) {
  if (input.dim() != 3 && input.dim() != 4)
    throw ValueError(detail::concat("adaptive_avg_pool2d(): Expected 3D or 4D tensor, but got ",
                                    shape_str(input.sizes())));
  for (int64_t d = 1; d < input.dim(); ++d)
    if (input.size(d) == 0)
      throw ValueError(detail::concat(
          "adaptive_avg_pool2d(): Expected input to have non-zero size for non-batch dimensions, but input has sizes ",
          shape_str(input.sizes()), " with dimension ", d, " being empty"));
  if (!input.is_floating_point())
    throw ValueError(detail::concat("\"adaptive_avg_pool2d\" not implemented for '",
                                    input.dtype() == kInt64 ? "Long" : "Bool", "'"));
  const bool unbatched = input.dim() == 3;
  Tensor x4 = unbatched ? input.unsqueeze(0) : input;
  const int64_t N = x4.size(0), C = x4.size(1), H = x4.size(2), W = x4.size(3);
  const int64_t OH = out_h.value_or(H), OW = out_w.value_or(W);
  if (OH < 0 || OW < 0)
    throw ValueError(detail::concat("adaptive_avg_pool2d: elements of output_size must be greater than or equal to 0 ",
                                    "but received {", OH, ", ", OW, "}"));
  Tensor xc = x4.contiguous();
  Tensor out = make_tensor({N, C, OH, OW}, input.dtype());
  if (out.numel() > 0)
    dispatch_floating(input.dtype(), "adaptive_avg_pool2d", [&](auto tag) {
      using T = decltype(tag);
      if (relu)
        adaptive_forward<true, T>(dp<T>(xc), dp<T>(out), N * C, H, W, OH, OW);
      else
        adaptive_forward<false, T>(dp<T>(xc), dp<T>(out), N * C, H, W, OH, OW);
    });
  if (autograd::compute_requires_grad({&x4})) {
    Shape xs = x4.sizes();
    auto node = detail::make_node(
        relu ? "ReluAdaptiveAvgPool2DBackward0" : "AdaptiveAvgPool2DBackward0",
        [xs, OH, OW, relu](const std::vector<Tensor>& grads, FunctionNode& self) -> std::vector<Tensor> {
          if (!grads[0].defined()) return {Tensor()};
          Tensor gy = grads[0].contiguous(), z = relu ? self.saved(0) : Tensor();
          Tensor gx = make_tensor(xs, gy.dtype());
          if (gx.numel() == 0) return {gx};
          if (gy.numel() == 0) return {gx.zero_()};
          dispatch_floating(gy.dtype(), "adaptive_avg_pool2d_backward", [&](auto tag) {
            using T = decltype(tag);
            adaptive_backward<T>(dp<T>(gy), relu ? dp<T>(z) : nullptr, dp<T>(gx), xs[0] * xs[1], xs[2], xs[3], OH, OW);
          });
          return {gx};
        },
        {&x4});
    if (relu) node->save(xc.is_same(x4) ? x4 : xc.detach());
    autograd::set_history(out, node);
  }
  return unbatched ? out.squeeze(0) : out;
}

}  // namespace

namespace nn::functional {

Tensor adaptive_avg_pool2d(const Tensor& input, std::optional<int64_t> out_h, std::optional<int64_t> out_w) {
  return adaptive_avg_pool2d_impl(input, out_h, out_w, false);
}

Tensor relu_adaptive_avg_pool2d(const Tensor& input, std::optional<int64_t> out_h, std::optional<int64_t> out_w) {
  return adaptive_avg_pool2d_impl(input, out_h, out_w, true);
}

}  // namespace nn::functional
}  // namespace actlab
