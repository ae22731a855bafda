// nn::Conv2d: parameters, PyTorch's default initialization, printing; non-zero padding modes pad the input
// explicitly (a gather whose backward scatter-adds) and then convolve without padding, as PyTorch does.
#include <cmath>
#include <vector>

#include "actlab/autograd/grad_mode.h"
#include "actlab/nn/layers.h"
#include "actlab/ops/ops.h"
#include "core/parallel.h"
#include "ops/elementwise_impl.h"

namespace actlab::nn {
namespace detail_layers {

// U(-bound, bound) from the global generator, written into t (no autograd).
void fill_uniform(Tensor& t, double bound) {
  Tensor r = rand(t.sizes(), {t.dtype()});
  NoGradGuard ng;
  t.copy_(r * (2.0 * bound) - bound);
}

}  // namespace detail_layers

namespace {

// Source index of padded position `i` (in [-before, n + after)) for a padding mode.
int64_t pad_source(int64_t i, int64_t n, const std::string& mode) {
  if (i >= 0 && i < n) return i;
  if (mode == "reflect") return i < 0 ? -i : 2 * (n - 1) - i;
  if (mode == "replicate") return i < 0 ? 0 : n - 1;
  return ((i % n) + n) % n;  // circular
}

// F.pad(x, (left, right, top, bottom), mode) for 4-D x and a non-constant mode.
Tensor pad2d(const Tensor& x, int64_t top, int64_t bottom, int64_t left, int64_t right, const std::string& mode) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  if (mode == "reflect") {
    if (left >= W || right >= W)
      throw ValueError(detail::concat("Argument #4: Padding size should be less than the corresponding input dimension, "
                                      "but got: padding (", left, ", ", right, ") at dimension 3 of input ",
                                      shape_str(x.sizes())));
    if (top >= H || bottom >= H)
      throw ValueError(detail::concat("Argument #6: Padding size should be less than the corresponding input dimension, "
                                      "but got: padding (", top, ", ", bottom, ") at dimension 2 of input ",
                                      shape_str(x.sizes())));
  }
  if (mode == "circular" && (top > H || bottom > H || left > W || right > W))
    throw ValueError("Padding value causes wrapping around more than once.");
  if (mode == "replicate" && (H == 0 || W == 0))
    throw ValueError(detail::concat("replication_pad2d: input of size ", shape_str(x.sizes()), " is empty"));
  const int64_t OH = H + top + bottom, OW = W + left + right;
  std::vector<int64_t> src(OH * OW);
  for (int64_t h = 0; h < OH; ++h)
    for (int64_t w = 0; w < OW; ++w)
      src[h * OW + w] = pad_source(h - top, H, mode) * W + pad_source(w - left, W, mode);
  Tensor xc = x.contiguous();
  Tensor out = make_tensor({N, C, OH, OW}, x.dtype());
  const int64_t planes = N * C;
  dispatch_floating(x.dtype(), "pad", [&](auto tag) {
    using T = decltype(tag);
    const T* xp = reinterpret_cast<const T*>(xc.raw_data());
    T* op = reinterpret_cast<T*>(out.raw_data());
    actlab::detail::parallel_for(planes, planes * OH * OW > 32768, [&](int64_t p, int) {
      for (int64_t k = 0; k < OH * OW; ++k) op[p * OH * OW + k] = xp[p * H * W + src[k]];
    });
  });
  if (autograd::compute_requires_grad({&x})) {
    const char* name = mode == "reflect" ? "ReflectionPad2DBackward0"
                       : mode == "replicate" ? "ReplicationPad2DBackward0" : "CopySlices";
    Shape xs = x.sizes();
    auto node = actlab::detail::make_node(
        name,
        [src, xs, OH, OW](const std::vector<Tensor>& g, autograd::FunctionNode&) -> std::vector<Tensor> {
          if (!g[0].defined()) return {Tensor()};
          Tensor gy = g[0].contiguous();
          Tensor gx = zeros(xs, {gy.dtype()});
          const int64_t planes = xs[0] * xs[1], HW = xs[2] * xs[3];
          dispatch_floating(gy.dtype(), "pad_backward", [&](auto tag) {
            using T = decltype(tag);
            const T* gp = reinterpret_cast<const T*>(gy.raw_data());
            T* xp = reinterpret_cast<T*>(gx.raw_data());
            actlab::detail::parallel_for(planes, planes * OH * OW > 32768, [&](int64_t p, int) {
              for (int64_t k = 0; k < OH * OW; ++k) xp[p * HW + src[k]] += gp[p * OH * OW + k];
            });
          });
          return {gx};
        },
        {&x});
    autograd::set_history(out, node);
  }
  return out;
}

}  // namespace

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, Size2 kernel_size, Conv2dOptions options)
    : in_(in_channels), out_(out_channels), kernel_(kernel_size), opt_(std::move(options)) {
  if (opt_.groups <= 0) throw ValueError("groups must be a positive integer");
  if (in_ < 0 || out_ < 0)
    throw ValueError(detail::concat("Conv2d: in_channels and out_channels must be non-negative, got ", in_, " and ",
                                    out_));
  if (kernel_.h <= 0 || kernel_.w <= 0)
    throw ValueError(detail::concat("Conv2d: kernel_size must be positive, got ", kernel_.tuple_string()));
  if (in_ % opt_.groups != 0) throw ValueError("in_channels must be divisible by groups");
  if (out_ % opt_.groups != 0) throw ValueError("out_channels must be divisible by groups");
  if (!opt_.padding.mode.empty()) {
    if (opt_.padding.mode != "same" && opt_.padding.mode != "valid")
      throw ValueError(detail::concat("Invalid padding string '", opt_.padding.mode,
                                      "', should be one of {'same', 'valid'}"));
    if (opt_.padding.mode == "same" && (opt_.stride.h != 1 || opt_.stride.w != 1))
      throw ValueError("padding='same' is not supported for strided convolutions");
  }
  const std::string& pm = opt_.padding_mode;
  if (pm != "zeros" && pm != "reflect" && pm != "replicate" && pm != "circular")
    throw ValueError(detail::concat("padding_mode must be one of {'reflect', 'replicate', 'zeros', 'circular'}, "
                                    "but got padding_mode='", pm, "'"));
  weight_ = register_parameter("weight", empty({out_, in_ / opt_.groups, kernel_.h, kernel_.w}));
  if (opt_.bias) bias_ = register_parameter("bias", empty({out_}));
  else register_parameter("bias", Tensor(), false);
  reset_parameters();
}

void Conv2d::reset_parameters() {
  const int64_t fan_in = in_ / opt_.groups * kernel_.h * kernel_.w;
  const double bound = fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
  // kaiming_uniform_(a=sqrt(5)): gain sqrt(2 / 6), bound gain * sqrt(3 / fan_in) = 1 / sqrt(fan_in).
  if (weight_.numel() > 0) detail_layers::fill_uniform(weight_, bound);  // PyTorch: zero-element init is a no-op
  if (bias_.defined() && bias_.numel() > 0) detail_layers::fill_uniform(bias_, bound);
}

Tensor Conv2d::forward(const Tensor& input) {
  if (opt_.padding_mode == "zeros")
    return functional::conv2d(input, weight_, bias_, opt_.stride, opt_.padding, opt_.dilation, opt_.groups);
  if (input.dim() != 3 && input.dim() != 4)
    throw ValueError(detail::concat("Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: ",
                                    shape_str(input.sizes())));
  int64_t top, bottom, left, right;
  if (opt_.padding.mode == "same") {
    const int64_t th = opt_.dilation.h * (kernel_.h - 1), tw = opt_.dilation.w * (kernel_.w - 1);
    top = th / 2;
    bottom = th - top;
    left = tw / 2;
    right = tw - left;
  } else if (opt_.padding.mode == "valid") {
    top = bottom = left = right = 0;
  } else {
    top = bottom = opt_.padding.size.h;
    left = right = opt_.padding.size.w;
  }
  const bool unbatched = input.dim() == 3;
  Tensor x4 = unbatched ? input.unsqueeze(0) : input;
  Tensor padded = pad2d(x4, top, bottom, left, right, opt_.padding_mode);
  Tensor y = functional::conv2d(padded, weight_, bias_, opt_.stride, 0, opt_.dilation, opt_.groups);
  return unbatched ? y.squeeze(0) : y;
}

std::string Conv2d::extra_repr() const {
  std::string s = detail::concat(in_, ", ", out_, ", kernel_size=", kernel_.tuple_string(),
                                 ", stride=", opt_.stride.tuple_string());
  if (!opt_.padding.mode.empty())
    s += ", padding=" + opt_.padding.mode;
  else if (opt_.padding.size.h != 0 || opt_.padding.size.w != 0)
    s += ", padding=" + opt_.padding.size.tuple_string();
  if (opt_.dilation.h != 1 || opt_.dilation.w != 1) s += ", dilation=" + opt_.dilation.tuple_string();
  if (opt_.groups != 1) s += detail::concat(", groups=", opt_.groups);
  if (!bias_.defined()) s += ", bias=False";
  if (opt_.padding_mode != "zeros") s += ", padding_mode=" + opt_.padding_mode;
  return s;
}

}  // namespace actlab::nn
