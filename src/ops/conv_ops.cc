// F.conv2d forward and backward: im2col + GEMM per image, the images spread over the pool's threads (each
// thread's oneDNN sgemm then runs single-threaded on a column buffer that stays in cache). With fewer
// images than threads the images run one after another and the GEMMs use the threads instead. Float32 3x3
// convolutions with stride 1 and padding 1 take the direct or the Winograd kernels instead (below).
#include <algorithm>
#include <cstring>
#include <mutex>
#include <vector>

#include "actlab/autograd/grad_mode.h"
#include "actlab/kernels/control.h"
#include "actlab/nn/functional_layers.h"
#include "actlab/ops/ops.h"
#include "core/parallel.h"
#include "kernels/conv_kernels.h"
#include "ops/elementwise_impl.h"
#include "ops/gemm.h"

namespace actlab {

namespace nn {
std::string Size2::to_string() const { return scalar ? std::to_string(h) : tuple_string(); }
std::string Size2::tuple_string() const { return detail::concat("(", h, ", ", w, ")"); }
}  // namespace nn

namespace {

using autograd::FunctionNode;

struct ConvGeom {
  int64_t N, C, H, W;     // input
  int64_t O, kh, kw;      // weight [O, C/groups, kh, kw]
  int64_t sh, sw, ph, pw, dh, dw;  // ph/pw: padding before (top/left)
  int64_t OH, OW, groups;
  int64_t Cg() const { return C / groups; }
  int64_t Og() const { return O / groups; }
  int64_t K() const { return Cg() * kh * kw; }  // GEMM depth per group
  int64_t P() const { return OH * OW; }
  bool direct() const { return kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0 && OH == H && OW == W; }
};

// For kernel column j: the output columns [lo, hi) whose input column ow*sw - pw + j*dw lies inside [0, W).
inline void valid_range(int64_t OW, int64_t W, int64_t sw, int64_t pw, int64_t off, int64_t& lo, int64_t& hi) {
  // iw = ow*sw + (off - pw) with off = j*dw; need 0 <= iw < W.
  int64_t base = off - pw;
  lo = base >= 0 ? 0 : (-base + sw - 1) / sw;
  hi = base > W - 1 ? 0 : (W - 1 - base) / sw + 1;
  lo = std::min(lo, OW);
  hi = std::clamp<int64_t>(hi, lo, OW);
}

// Unit strides with the output as wide as the input (3x3 with padding 1, 'same'): row r = (c*kh + i)*kw + j
// of col is then the input plane c shifted by a constant, and its valid entries are one block.
inline bool shifted_plane(const ConvGeom& g) { return g.sh == 1 && g.sw == 1 && g.OW == g.W; }

// For shifted_plane(g): calls f(ShiftedRow) for every row r of col, where col positions [first, last) of
// the row correspond to input positions [in, in + last - first), both inside the plane (first == last: the
// row is all padding). Positions of the block in columns outside the row's valid range
// [lo, hi) wrapped around a row edge; zero_wrapped clears them.
struct ShiftedRow {
  int64_t r, first, last, in;  // in: index into x (or gx) of the element at col position first
  int64_t rlo, rhi, lo, hi;    // valid output rows and columns
};
template <class F>
void for_each_shifted_row(const ConvGeom& g, F&& f) {
  const int64_t W = g.W;
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t i = 0; i < g.kh; ++i) {
      int64_t rlo, rhi;
      valid_range(g.OH, g.H, 1, g.ph, i * g.dh, rlo, rhi);
      for (int64_t j = 0; j < g.kw; ++j) {
        int64_t lo, hi;
        valid_range(g.OW, W, 1, g.pw, j * g.dw, lo, hi);
        const int64_t r = (c * g.kh + i) * g.kw + j;
        if (rhi <= rlo || hi <= lo) {
          f(ShiftedRow{r, 0, 0, 0, rlo, rhi, lo, hi});
          continue;
        }
        const int64_t first = rlo * W + lo, last = (rhi - 1) * W + hi;
        f(ShiftedRow{r, first, last, c * g.H * W + first + (i * g.dh - g.ph) * W + (j * g.dw - g.pw), rlo, rhi, lo, hi});
      }
    }
}

// Zeroes the entries of a shifted row's block that lie outside its valid columns (they wrapped around).
template <class T>
void zero_wrapped(T* row, int64_t W, const ShiftedRow& s) {
  if (s.lo == 0 && s.hi == W) return;
  for (int64_t oh = s.rlo; oh < s.rhi; ++oh) {
    T* rr = row + oh * W;
    if (oh > s.rlo) std::fill(rr, rr + s.lo, T(0));
    if (oh + 1 < s.rhi) std::fill(rr + s.hi, rr + W, T(0));
  }
}

// col[(c*kh + i)*kw + j][oh*OW + ow] = x[c][oh*sh - ph + i*dh][ow*sw - pw + j*dw] (0 outside).
template <class T>
void im2col(const T* x, T* col, const ConvGeom& g) {
  const int64_t P = g.P();
  if (shifted_plane(g)) {
    // The valid rows as one block copy, then the wrapped columns and the rows outside the input zeroed.
    for_each_shifted_row(g, [&](const ShiftedRow& s) {
      T* row = col + s.r * P;
      std::fill(row, row + s.first, T(0));
      std::memcpy(row + s.first, x + s.in, (s.last - s.first) * sizeof(T));
      std::fill(row + s.last, row + P, T(0));
      zero_wrapped(row, g.W, s);
    });
    return;
  }
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) {
        T* row = col + ((c * g.kh + i) * g.kw + j) * P;
        int64_t lo, hi;
        valid_range(g.OW, g.W, g.sw, g.pw, j * g.dw, lo, hi);
        const int64_t shift = j * g.dw - g.pw;
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          T* dst = row + oh * g.OW;
          const int64_t ih = oh * g.sh - g.ph + i * g.dh;
          if (ih < 0 || ih >= g.H) {
            std::fill(dst, dst + g.OW, T(0));
            continue;
          }
          const T* src = x + (c * g.H + ih) * g.W;
          std::fill(dst, dst + lo, T(0));
          if (g.sw == 1) {
            if (hi > lo) std::memcpy(dst + lo, src + lo + shift, (hi - lo) * sizeof(T));
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) dst[ow] = src[ow * g.sw + shift];
          }
          std::fill(dst + hi, dst + g.OW, T(0));
        }
      }
}

// The adjoint of im2col: gx[c][ih][iw] += col[...] (gx must start zeroed). Overwrites the entries of col
// that im2col would have set to 0.
template <class T>
void col2im(T* col, T* gx, const ConvGeom& g) {
  const int64_t P = g.P();
  if (shifted_plane(g)) {
    // Zero the entries that stand for padding, then add the block of valid rows in one loop (the wrapped
    // columns add an exact 0; gx never holds -0.0, as it starts at +0.0). Every gx element receives its terms
    // in the same order as the row-by-row loop below.
    for_each_shifted_row(g, [&](const ShiftedRow& s) {
      if (s.first == s.last) return;
      T* row = col + s.r * P;
      zero_wrapped(row, g.W, s);
      T* __restrict dst = gx + s.in;
      const T* __restrict src = row + s.first;
      for (int64_t q = 0; q < s.last - s.first; ++q) dst[q] += src[q];
    });
    return;
  }
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) {
        const T* row = col + ((c * g.kh + i) * g.kw + j) * P;
        int64_t lo, hi;
        valid_range(g.OW, g.W, g.sw, g.pw, j * g.dw, lo, hi);
        const int64_t shift = j * g.dw - g.pw;
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          const int64_t ih = oh * g.sh - g.ph + i * g.dh;
          if (ih < 0 || ih >= g.H) continue;
          const T* src = row + oh * g.OW;
          T* dst = gx + (c * g.H + ih) * g.W;
          if (g.sw == 1) {
            T* d = dst + shift;
            for (int64_t ow = lo; ow < hi; ++ow) d[ow] += src[ow];
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) dst[ow * g.sw + shift] += src[ow];
          }
        }
      }
}

// Runs body(i, tid) for i in [0, count): over `nthreads` pool threads (static blocks), or serially when
// nthreads is 1.
template <class F>
void parallel_items(int64_t count, int nthreads, F&& body) {
  detail::parallel_for(count, nthreads > 1, body, nthreads);
}

// Runs body(n, tid) for every image: over the pool's threads when there are at least as many images as
// threads (GEMMs inside then run single-threaded), else serially (GEMMs use oneDNN's OpenMP threads).
template <class F>
void for_each_image(int64_t N, int nthreads, F&& body) {
  parallel_items(N, N >= nthreads ? nthreads : 1, body);
}

inline int image_threads(int64_t N) {
  int t = detail::max_threads();
  return N >= t ? t : 1;
}

// Scratch of n elements for the calling thread, slot `Slot`, kept between calls (grow-only). Buffers of a few
// hundred kB allocated per call came from fresh pages every time (glibc hands them to mmap, or trims the heap
// when they are freed), and those page faults cost more than the convolution kernels that use them.
template <class T, int Slot>
T* thread_scratch(int64_t n) {
  thread_local std::vector<T> buf;
  if (buf.size() < static_cast<size_t>(n)) buf.resize(static_cast<size_t>(n));
  return buf.data();
}

bool direct3x3(const ConvGeom& g);
void conv3x3_forward_images(const float* x, const float* w, const float* b, float* out, const ConvGeom& g);

template <class T>
void conv_forward(const T* x, const T* w, const T* b, T* out, const ConvGeom& g) {
  if constexpr (std::is_same_v<T, float>) {
    if (direct3x3(g)) return conv3x3_forward_images(x, w, b, out, g);
  }
  const int64_t P = g.P(), K = g.K(), Og = g.Og(), colsize = g.direct() ? 0 : g.C * g.kh * g.kw * P;
  const int nt = image_threads(g.N);
  for_each_image(g.N, nt, [&](int64_t n, int) {
    const T* xn = x + n * g.C * g.H * g.W;
    const T* col = xn;
    if (!g.direct()) {
      T* buf = thread_scratch<T, 0>(colsize);
      im2col(xn, buf, g);
      col = buf;
    }
    T* on = out + n * g.O * P;
    for (int64_t gr = 0; gr < g.groups; ++gr)
      detail::gemm(false, false, Og, P, K, T(1), w + gr * Og * K, K, col + gr * K * P, P, T(0), on + gr * Og * P, P);
    if (b)
      for (int64_t o = 0; o < g.O; ++o) {
        T* r = on + o * P;
        const T bv = b[o];
        for (int64_t p = 0; p < P; ++p) r[p] += bv;
      }
  });
}

// Gradients of conv_forward; each output pointer may be null (not needed). gx need not be zeroed.
// The weight and bias gradients sum over images. To give the same bits with any thread count, images are
// summed in fixed blocks of kImagesPerBlock (in order within a block), and the blocks' sums in order; threads
// take whole blocks.
constexpr int64_t kImagesPerBlock = 8;

template <class F>
void for_each_image_in_blocks(int64_t N, F&& body) {
  const int64_t blocks = (N + kImagesPerBlock - 1) / kImagesPerBlock;
  const int nthreads = blocks >= detail::max_threads() ? detail::max_threads() : 1;
  parallel_items(blocks, nthreads, [&](int64_t b, int tid) {
    for (int64_t n = b * kImagesPerBlock; n < std::min(N, (b + 1) * kImagesPerBlock); ++n) body(n, tid, b);
  });
}

// acc[o] += the sum of gy's plane o (P values), in eight lanes.
template <class T>
void add_bias_grad(const T* gyn, T* acc, int64_t O, int64_t P) {
  for (int64_t o = 0; o < O; ++o) {
    const T* r = gyn + o * P;
    T lanes[8] = {};
    int64_t p = 0;
    for (; p + 8 <= P; p += 8)
      for (int l = 0; l < 8; ++l) lanes[l] += r[p + l];
    T s = 0;
    for (int l = 0; l < 8; ++l) s += lanes[l];
    for (; p < P; ++p) s += r[p];
    acc[o] += s;
  }
}

// Sums per-block partial gradients (blocks of `size`, one after another) into out, blocks in order.
template <class T>
void sum_blocks(const T* parts, int64_t blocks, T* out, int64_t size) {
  std::copy(parts, parts + size, out);
  for (int64_t b = 1; b < blocks; ++b)
    for (int64_t i = 0; i < size; ++i) out[i] += parts[b * size + i];
}

// ---- direct and Winograd 3x3 (float32): kernels/conv_kernels.h --------------------------------------------
// 3x3, stride 1, padding 1 on every side, no dilation, one group: the seed CNN's and the cnn model's convs.
bool direct3x3(const ConvGeom& g) {
  return g.kh == 3 && g.kw == 3 && g.sh == 1 && g.sw == 1 && g.dh == 1 && g.dw == 1 && g.ph == 1 && g.pw == 1 &&
         g.OH == g.H && g.OW == g.W && g.groups == 1 && !kernels::reference_kernels();
}

// The weights [O, C, 3, 3] as the kernels read them: forward K[(c * 9 + t) * O + o] = w[o][c][t]; for the input
// gradient (a 3x3 convolution of gy with the kernel turned by 180 degrees, channels swapped)
// K[(o * 9 + t) * C + c] = w[o][c][8 - t].
std::vector<float> pack3x3(const float* w, int64_t O, int64_t C, bool for_input_grad) {
  std::vector<float> K(static_cast<size_t>(O * C * 9));
  for (int64_t o = 0; o < O; ++o)
    for (int64_t c = 0; c < C; ++c)
      for (int t = 0; t < 9; ++t) {
        const float v = w[(o * C + c) * 9 + t];
        if (for_input_grad)
          K[static_cast<size_t>((o * 9 + (8 - t)) * C + c)] = v;
        else
          K[static_cast<size_t>((c * 9 + t) * O + o)] = v;
      }
  return K;
}

// Whether the convolution's output and gradients take the Winograd kernels: channel counts that fill their
// vectors, and planes small enough that the per-thread scratch (about ten times an image's data: the transformed
// tiles hold 16 values per 4 positions) stays under 16 MB; larger planes run the direct kernel, whose scratch is
// one padded copy of the image.
bool winograd3x3(const ConvGeom& g) {
  constexpr int64_t kMaxScratchFloats = int64_t{4} << 20;
  if (g.C % 16 != 0 || g.O % 16 != 0) return false;
  const int64_t forward = kernels::winograd_scratch_size(g.C, g.O, g.H, g.W);
  const int64_t input_grad = kernels::winograd_scratch_size(g.O, g.C, g.H, g.W);
  const int64_t weight_grad = kernels::winograd_weight_grad_scratch_size(g.C, g.O, g.H, g.W);
  return std::max({forward, input_grad, weight_grad}) <= kMaxScratchFloats;
}

// out (N images of Cout planes) = the 3x3 convolution of `in` (N images of Cin planes of g's H x W) with the
// weights w [O, C, 3, 3] (for_input_grad: turned, channels swapped, see pack3x3); images over the threads.
// Winograd where winograd3x3 allows, with the direct kernel for an image whose Winograd outputs were not finite.
void conv3x3_images(const float* in, int64_t Cin, const float* w, bool for_input_grad, const float* bias, float* out,
                    int64_t Cout, const ConvGeom& g) {
  const int64_t P = g.P(), psize = kernels::conv3x3_padded_size(Cin, g.H, g.W);
  std::vector<float> U;
  if (winograd3x3(g)) {
    U.resize(static_cast<size_t>(16 * Cin * Cout));
    kernels::winograd_weights(w, g.O, g.C, for_input_grad, U.data());
  }
  const int64_t wsize = U.empty() ? 0 : kernels::winograd_scratch_size(Cin, Cout, g.H, g.W);
  // The direct kernel's packed weights: only when an image takes it (with Winograd, only after a non-finite one).
  std::vector<float> K;
  std::once_flag packed;
  for_each_image(g.N, image_threads(g.N), [&](int64_t n, int) {
    const float* xn = in + n * Cin * P;
    float* on = out + n * Cout * P;
    if (!U.empty() &&
        kernels::conv3x3_winograd(xn, U.data(), bias, on, Cin, Cout, g.H, g.W, thread_scratch<float, 5>(wsize)))
      return;
    std::call_once(packed, [&] { K = pack3x3(w, g.O, g.C, for_input_grad); });
    float* pad = thread_scratch<float, 0>(psize);
    kernels::conv3x3_prepare(xn, pad, Cin, g.H, g.W);
    kernels::conv3x3_forward(pad, K.data(), bias, on, Cin, Cout, g.H, g.W);
  });
}

void conv3x3_forward_images(const float* x, const float* w, const float* b, float* out, const ConvGeom& g) {
  conv3x3_images(x, g.C, w, false, b, out, g.O, g);
}

// The weight and bias gradients, summed over fixed blocks of images (the blocks over the threads), then the
// blocks in order: the same bits with any thread count.
void conv3x3_param_grads(const float* x, const float* gy, float* gw, float* gb, const ConvGeom& g) {
  const int64_t P = g.P(), C = g.C, O = g.O;
  const int64_t xsize = kernels::conv3x3_padded_size(C, g.H, g.W), gsize = O * kernels::conv3x3_grad_stride(g.H, g.W);
  const int64_t blocks = (g.N + kImagesPerBlock - 1) / kImagesPerBlock;
  const int nthreads = blocks >= detail::max_threads() ? detail::max_threads() : 1;
  const int64_t wsize = O * C * 9;
  float* gws = gw ? thread_scratch<float, 1>(blocks * wsize) : nullptr;
  float* gbs = gb ? thread_scratch<float, 2>(blocks * O) : nullptr;
  if (gws) std::fill(gws, gws + blocks * wsize, 0.0f);
  if (gbs) std::fill(gbs, gbs + blocks * O, 0.0f);
  // The kernel reads the gradient with aligned loads and no partial vector: planes whose size is a multiple of
  // 16 floats in a 64-byte aligned tensor are read in place, others through an aligned copy.
  const bool in_place = P % 16 == 0 && reinterpret_cast<uintptr_t>(gy) % 64 == 0;
  const bool winograd = gw && winograd3x3(g);
  const int64_t wgsize = winograd ? kernels::winograd_weight_grad_scratch_size(C, O, g.H, g.W) : 0;
  parallel_items(blocks, nthreads, [&](int64_t blk, int tid) {
    const int64_t n0 = blk * kImagesPerBlock, count = std::min(g.N, n0 + kImagesPerBlock) - n0;
    const float* pads[kImagesPerBlock];
    const float* grads[kImagesPerBlock];
    bool done = false;  // the weight gradient by Winograd (unless its sums were not finite)
    if (winograd) {
      for (int64_t k = 0; k < count; ++k) {
        pads[k] = x + (n0 + k) * C * P;
        grads[k] = gy + (n0 + k) * O * P;
      }
      done = kernels::conv3x3_winograd_weight_grad(pads, grads, count, gws + blk * wsize, C, O, g.H, g.W,
                                                   thread_scratch<float, 5>(wgsize));
    }
    if (gw && !done) {
      float* xp = thread_scratch<float, 3>(xsize * kImagesPerBlock);
      float* gp = in_place ? nullptr : thread_scratch<float, 4>(gsize * kImagesPerBlock + 16);
      if (gp) gp += (16 - reinterpret_cast<uintptr_t>(gp) / sizeof(float) % 16) % 16;  // 64-byte aligned
      for (int64_t k = 0; k < count; ++k) {
        kernels::conv3x3_prepare(x + (n0 + k) * C * P, xp + k * xsize, C, g.H, g.W);
        pads[k] = xp + k * xsize;
        if (in_place) {
          grads[k] = gy + (n0 + k) * O * P;
        } else {
          kernels::conv3x3_prepare_grad(gy + (n0 + k) * O * P, gp + k * gsize, O, g.H, g.W);
          grads[k] = gp + k * gsize;
        }
      }
      kernels::conv3x3_weight_grad(pads, grads, count, gws + blk * wsize, C, O, g.H, g.W);
    }
    const bool copies = gw && !done && !in_place;  // gy's planes copied gsize / O apart
    if (gb)  // from the copies while they are in cache
      for (int64_t k = 0; k < count; ++k)
        kernels::conv3x3_plane_sums(gw && !done ? grads[k] : gy + (n0 + k) * O * P, O, P, copies ? gsize / O : P,
                                    gbs + blk * O);
  });
  if (gw) sum_blocks(gws, blocks, gw, wsize);
  if (gb) sum_blocks(gbs, blocks, gb, O);
}

template <class T>
void conv_backward(const T* x, const T* w, const T* gy, T* gx, T* gw, T* gb, const ConvGeom& g) {
  if constexpr (std::is_same_v<T, float>) {
    if (direct3x3(g)) {
      // gy's planes through the kernel with the turned weights.
      if (gx) conv3x3_images(gy, g.O, w, true, nullptr, gx, g.C, g);
      if (gw || gb) conv3x3_param_grads(x, gy, gw, gb, g);
      return;
    }
  }
  const int64_t P = g.P(), K = g.K(), Og = g.Og(), colsize = g.C * g.kh * g.kw * P;
  const int64_t wsize = g.O * K;
  const int64_t blocks = (g.N + kImagesPerBlock - 1) / kImagesPerBlock;
  T* gws = gw ? thread_scratch<T, 1>(blocks * wsize) : nullptr;
  T* gbs = gb ? thread_scratch<T, 2>(blocks * g.O) : nullptr;
  if (gws) std::fill(gws, gws + blocks * wsize, T(0));
  if (gbs) std::fill(gbs, gbs + blocks * g.O, T(0));
  for_each_image_in_blocks(g.N, [&](int64_t n, int, int64_t block) {
    const T* gyn = gy + n * g.O * P;
    T* buf = g.direct() ? nullptr : thread_scratch<T, 0>(colsize);
    if (gw) {
      const T* xn = x + n * g.C * g.H * g.W;
      const T* col = xn;
      if (!g.direct()) {
        im2col(xn, buf, g);
        col = buf;
      }
      T* acc = gws + block * wsize;
      for (int64_t gr = 0; gr < g.groups; ++gr)
        detail::gemm(false, true, Og, K, P, T(1), gyn + gr * Og * P, P, col + gr * K * P, P, T(1), acc + gr * Og * K,
                     K);
    }
    if (gb) add_bias_grad(gyn, gbs + block * g.O, g.O, P);
    if (gx) {
      T* gxn = gx + n * g.C * g.H * g.W;
      if (g.direct()) {
        for (int64_t gr = 0; gr < g.groups; ++gr)
          detail::gemm(true, false, K, P, Og, T(1), w + gr * Og * K, K, gyn + gr * Og * P, P, T(0), gxn + gr * K * P, P);
      } else {
        for (int64_t gr = 0; gr < g.groups; ++gr)
          detail::gemm(true, false, K, P, Og, T(1), w + gr * Og * K, K, gyn + gr * Og * P, P, T(0),
                       buf + gr * K * P, P);
        std::fill(gxn, gxn + g.C * g.H * g.W, T(0));
        col2im(buf, gxn, g);
      }
    }
  });
  if (gw) sum_blocks(gws, blocks, gw, wsize);
  if (gb) sum_blocks(gbs, blocks, gb, g.O);
}

template <class T>
const T* ptr(const Tensor& t) {
  return t.defined() ? reinterpret_cast<const T*>(t.raw_data()) : nullptr;
}

Tensor conv2d_batched(const Tensor& input, const Tensor& weight, const Tensor& bias, nn::Size2 stride,
                      const nn::Conv2dPadding& padding, nn::Size2 dilation, int64_t groups) {
  const Shape& ws = weight.sizes();
  const Shape& is = input.sizes();
  if (stride.h <= 0 || stride.w <= 0) throw ValueError("non-positive stride is not supported");
  if (dilation.h <= 0 || dilation.w <= 0) throw ValueError("non-positive dilation is not supported");
  if (groups <= 0) throw ValueError("non-positive groups is not supported");
  if (weight.dim() != 4)
    throw ValueError(detail::concat("Expected 4-dimensional weight for 4-dimensional input ", shape_str(is),
                                    ", but got ", weight.dim(), "-dimensional weight of size ", shape_str(ws)));
  if (input.dtype() != weight.dtype() || (bias.defined() && bias.dtype() != input.dtype()))
    throw ValueError(detail::concat("expected scalar type ", dtype_name(input.dtype()), " but found ",
                                    dtype_name(input.dtype() != weight.dtype() ? weight.dtype() : bias.dtype())));
  if (!input.is_floating_point())
    throw ValueError(detail::concat("\"conv2d\" not implemented for '", input.dtype() == kInt64 ? "Long" : "Bool", "'"));
  if (ws[0] % groups != 0)
    throw ValueError(detail::concat("Given groups=", groups, ", expected weight to be divisible by ", groups,
                                    " at dimension 0, but got weight of size [", shape_str(ws), "] instead"));
  if (is[1] != ws[1] * groups)
    throw ValueError(detail::concat("Given groups=", groups, ", weight of size ", shape_str(ws), ", expected input",
                                    shape_str(is), " to have ", ws[1] * groups, " channels, but got ", is[1],
                                    " channels instead"));
  if (bias.defined() && (bias.dim() != 1 || bias.size(0) != ws[0]))
    throw ValueError(detail::concat("Given weight of size ", shape_str(ws), ", expected bias to be 1-dimensional with ",
                                    ws[0], " elements, but got bias of size ", shape_str(bias.sizes()), " instead"));
  // Padding: before (top/left) and after (bottom/right).
  int64_t pt, pb, pl, pr;
  const int64_t ekh = dilation.h * (ws[2] - 1) + 1, ekw = dilation.w * (ws[3] - 1) + 1;
  if (padding.mode.empty() || padding.mode == "valid") {
    int64_t ph = padding.mode.empty() ? padding.size.h : 0, pw = padding.mode.empty() ? padding.size.w : 0;
    if (ph < 0 || pw < 0) throw ValueError("negative padding is not supported");
    pt = pb = ph;
    pl = pr = pw;
  } else if (padding.mode == "same") {
    if (stride.h != 1 || stride.w != 1) throw ValueError("padding='same' is not supported for strided convolutions");
    pt = (ekh - 1) / 2;
    pb = ekh - 1 - pt;
    pl = (ekw - 1) / 2;
    pr = ekw - 1 - pl;
  } else {
    throw ValueError(detail::concat("Invalid padding string '", padding.mode, "', should be one of {'same', 'valid'}"));
  }
  const int64_t Hp = is[2] + pt + pb, Wp = is[3] + pl + pr;
  if (Hp < ekh || Wp < ekw)
    throw ValueError(detail::concat("Calculated padded input size per channel: (", Hp, " x ", Wp, "). Kernel size: (",
                                    ekh, " x ", ekw, "). Kernel size can't be greater than actual input size"));
  ConvGeom g{is[0], is[1], is[2], is[3], ws[0], ws[2], ws[3], stride.h, stride.w, pt, pl, dilation.h, dilation.w,
             (Hp - ekh) / stride.h + 1, (Wp - ekw) / stride.w + 1, groups};

  Tensor x = input.contiguous(), w = weight.contiguous(), b = bias.defined() ? bias.contiguous() : Tensor();
  Tensor out = make_tensor({g.N, g.O, g.OH, g.OW}, input.dtype());
  if (out.numel() > 0) {
    dispatch_floating(input.dtype(), "conv2d", [&](auto tag) {
      using T = decltype(tag);
      conv_forward<T>(ptr<T>(x), ptr<T>(w), ptr<T>(b), reinterpret_cast<T*>(out.raw_data()), g);
    });
  } else if (g.N > 0) {
    out.zero_();
  }
  if (autograd::compute_requires_grad({&input, &weight, &bias})) {
    const bool need_x = input.requires_grad(), need_w = weight.requires_grad(),
               need_b = bias.defined() && bias.requires_grad();
    auto node = detail::make_node(
        "ConvolutionBackward0",
        [g, need_x, need_w, need_b](const std::vector<Tensor>& grads, FunctionNode& self) -> std::vector<Tensor> {
          if (!grads[0].defined()) return {Tensor(), Tensor(), Tensor()};
          Tensor xs = self.saved(0), wsv = self.saved(1);
          Tensor gy = grads[0].contiguous();
          Tensor gx = need_x ? make_tensor(xs.sizes(), xs.dtype()) : Tensor();
          Tensor gw = need_w ? make_tensor(wsv.sizes(), wsv.dtype()) : Tensor();
          Tensor gb = need_b ? make_tensor({g.O}, wsv.dtype()) : Tensor();
          if (gy.numel() == 0) {
            for (Tensor* t : {&gx, &gw, &gb})
              if (t->defined()) t->zero_();
            return {gx, gw, gb};
          }
          dispatch_floating(xs.dtype(), "conv2d_backward", [&](auto tag) {
            using T = decltype(tag);
            auto mp = [](Tensor& t) { return t.defined() ? reinterpret_cast<T*>(t.raw_data()) : nullptr; };
            conv_backward<T>(ptr<T>(xs), ptr<T>(wsv), ptr<T>(gy), mp(gx), mp(gw), mp(gb), g);
          });
          return {gx, gw, gb};
        },
        {&input, &weight, &bias});
    // Saved contiguous copies (x, w are the inputs themselves when already contiguous).
    node->save(x.is_same(input) ? input : x.detach());
    node->save(w.is_same(weight) ? weight : w.detach());
    autograd::set_history(out, node);
  }
  return out;
}

}  // namespace

namespace nn::functional {

Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, Size2 stride, Conv2dPadding padding,
              Size2 dilation, int64_t groups) {
  if (!input.defined() || !weight.defined()) throw ValueError("conv2d: input and weight must be defined tensors");
  if (input.dim() == 4) return conv2d_batched(input, weight, bias, stride, padding, dilation, groups);
  if (input.dim() == 3)
    return conv2d_batched(input.unsqueeze(0), weight, bias, stride, padding, dilation, groups).squeeze(0);
  throw ValueError(detail::concat("Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: ",
                                  shape_str(input.sizes())));
}

}  // namespace nn::functional
}  // namespace actlab
