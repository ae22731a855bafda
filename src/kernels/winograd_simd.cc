// Winograd F(2x2, 3x3) convolution (see conv_kernels.h) on Highway: one source, compiled for every x86-64 target
// and dispatched at run time.
//
// Per image: the input goes channel-last into a zero-bordered copy (one vector of channels per position), each
// 4x4 input tile d becomes V = B^T d B (16 values per channel), for each of the 16 Winograd points a small GEMM
// M[t][o] = sum_c V[t][c] U[c][o] runs with output channels in the vector lanes and tiles in registers, and each
// tile's 2x2 outputs are A^T M A (+ bias), written channel-last and then back to planes. Both layout changes
// go in blocks of one vector of channels x one vector of positions, transposed in registers. The weight gradient
// (further down) reuses the input side and sums the transformed output gradient times V over tiles and images.
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]   G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
//   A^T = [1 1 1 0; 0 1 -1 -1]
// Only +-1 and 1/2 appear, so small integer data gives exact results (the tests compare with im2col bit for bit).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/conv_kernels.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/winograd_simd.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "kernels/hwy_inl.h"

HWY_BEFORE_NAMESPACE();
namespace actlab::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;

constexpr size_t kLanes = hn::MaxLanes(DF());

// Transposes the kLanes x kLanes block r (lane j of r[i] is element (i, j)) in place: log2(kLanes) rounds that
// each take the even and the odd lanes of pairs of rows.
HWY_INLINE void TransposeBlock(VF* r) {
#if HWY_TARGET != HWY_SCALAR
  const DF d;
  for (size_t round = 1; round < kLanes; round *= 2) {
    VF t[kLanes];
#pragma GCC unroll 16
    for (size_t i = 0; i < kLanes / 2; ++i) {
      t[i] = hn::ConcatEven(d, r[2 * i + 1], r[2 * i]);
      t[kLanes / 2 + i] = hn::ConcatOdd(d, r[2 * i + 1], r[2 * i]);
    }
#pragma GCC unroll 16
    for (size_t i = 0; i < kLanes; ++i) r[i] = t[i];
  }
#else
  (void)r;
#endif
}

// V[xi][t][c] for tiles [0, T); the tiles [T, Tpad) are zero. xcl: the channel-last copy, PW positions per row.
void InputTransform(const float* xcl, float* V, int64_t Cin, int64_t TW, int64_t T, int64_t Tpad, int64_t PW) {
  const DF d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  for (int64_t t = 0; t < T; ++t) {
    const float* base = xcl + (2 * (t / TW) * PW + 2 * (t % TW)) * Cin;
    for (int64_t cv = 0; cv < Cin; cv += N) {
      VF r[4][4];
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) {
        const VF d0 = hn::LoadU(d, base + j * Cin + cv), d1 = hn::LoadU(d, base + (PW + j) * Cin + cv);
        const VF d2 = hn::LoadU(d, base + (2 * PW + j) * Cin + cv), d3 = hn::LoadU(d, base + (3 * PW + j) * Cin + cv);
        r[0][j] = hn::Sub(d0, d2);
        r[1][j] = hn::Add(d1, d2);
        r[2][j] = hn::Sub(d2, d1);
        r[3][j] = hn::Sub(d1, d3);
      }
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) {
        float* v = V + ((4 * i) * Tpad + t) * Cin + cv;
        const int64_t step = Tpad * Cin;
        hn::StoreU(hn::Sub(r[i][0], r[i][2]), d, v);
        hn::StoreU(hn::Add(r[i][1], r[i][2]), d, v + step);
        hn::StoreU(hn::Sub(r[i][2], r[i][1]), d, v + 2 * step);
        hn::StoreU(hn::Sub(r[i][1], r[i][3]), d, v + 3 * step);
      }
    }
  }
  for (int xi = 0; xi < 16; ++xi) std::memset(V + (xi * Tpad + T) * Cin, 0, static_cast<size_t>((Tpad - T) * Cin) * 4);
}

// dst [rows][cols][C] = the planes in [C, H, W] at rows [off, off + H) and columns [off, off + W), zero around
// them; the planes go over in blocks of kLanes channels x kLanes positions, each transposed in registers.
void ToChannelLast(const float* in, int64_t C, int64_t H, int64_t W, float* dst, int64_t rows, int64_t cols,
                   int64_t off) {
  const DF d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d)), P = H * W;
  std::memset(dst, 0, static_cast<size_t>(off * cols * C) * 4);
  for (int64_t y = 0; y < H; ++y) {
    float* row = dst + (y + off) * cols * C;
    std::memset(row, 0, static_cast<size_t>(off * C) * 4);
    std::memset(row + (W + off) * C, 0, static_cast<size_t>((cols - W - off) * C) * 4);
  }
  std::memset(dst + (H + off) * cols * C, 0, static_cast<size_t>((rows - H - off) * cols * C) * 4);
  for (int64_t p0 = 0; p0 < P; p0 += N) {
    const int64_t n = std::min(N, P - p0);
    for (int64_t cb = 0; cb < C; cb += N) {
      VF r[kLanes];
#pragma GCC unroll 16
      for (size_t i = 0; i < kLanes; ++i) {
        const float* src = in + (cb + static_cast<int64_t>(i)) * P + p0;
        r[i] = n == N ? hn::LoadU(d, src) : LoadFirst(d, src, static_cast<size_t>(n));
      }
      TransposeBlock(r);
      for (int64_t k = 0, y = p0 / W, x = p0 % W; k < n; ++k, x = x + 1 == W ? 0 : x + 1, y += x == 0)
        hn::StoreU(r[k], d, dst + ((y + off) * cols + x + off) * C + cb);
    }
  }
}

// V[xi][t][c] (Tpad tiles, the last ones zero) of the planes in [Cin, H, W], through the channel-last copy xcl
// with a one-position zero border ((2 TH + 2) x (2 TW + 2) positions).
void InputTiles(const float* in, int64_t Cin, int64_t H, int64_t W, float* xcl, float* V, int64_t Tpad) {
  const int64_t TH = (H + 1) / 2, TW = (W + 1) / 2;
  ToChannelLast(in, Cin, H, W, xcl, 2 * TH + 2, 2 * TW + 2, 1);
  InputTransform(xcl, V, Cin, TW, TH * TW, Tpad, 2 * TW + 2);
}

// out[r][k N] (+)= the sum over s < S of a(r, s) b[s][k N]: R x OB vector accumulators held over the whole sum;
// each broadcast of a(r, s) feeds OB multiply-adds, each vector of b R of them. a(r, s) is a[r + s * astride]
// with kAdjacentRows, else a[r * astride + s]; rows of b and out are `stride` floats apart. With `accumulate`
// the sums start from what out holds, else from zero. kAStride, when not 0, is astride known at compile time:
// the R row addresses are then offsets from one pointer (with astride at run time GCC kept R pointers and spilled
// them to the stack).
template <int R, int OB, bool kAdjacentRows, int kAStride = 0>
HWY_INLINE void OuterProducts(const float* a, int64_t astride_rt, const float* b, int64_t S, float* out,
                              int64_t stride, bool accumulate) {
  const int64_t astride = kAStride ? kAStride : astride_rt;
  const DF d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  VF acc[R][OB];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int k = 0; k < OB; ++k) acc[r][k] = accumulate ? hn::LoadU(d, out + r * stride + k * N) : hn::Zero(d);
  for (int64_t s = 0; s < S; ++s) {
    VF bk[OB];
#pragma GCC unroll 4
    for (int k = 0; k < OB; ++k) bk[k] = hn::LoadU(d, b + s * stride + k * N);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      VF x = hn::Set(d, kAdjacentRows ? a[r + s * astride] : a[r * astride + s]);
      if (OB > 1) InRegister(x);
#pragma GCC unroll 4
      for (int k = 0; k < OB; ++k) acc[r][k] = hn::MulAdd(x, bk[k], acc[r][k]);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int k = 0; k < OB; ++k) hn::StoreU(acc[r][k], d, out + r * stride + k * N);
}

// M[xi][t][o] for tiles [t0, t0 + R) and output channels [o0, o0 + OB N): the sum over input channels c of
// V[xi][t][c] U[xi][c][o]; kCin: Cin when known at compile time, else 0.
template <int R, int OB, int kCin>
HWY_INLINE void GemmBlock(const float* V, const float* U, float* M, int64_t Cin, int64_t Cout, int64_t Tpad, int xi,
                          int64_t t0, int64_t o0) {
  OuterProducts<R, OB, false, kCin>(V + (xi * Tpad + t0) * Cin, Cin, U + xi * Cin * Cout + o0, Cin,
                                    M + (xi * Tpad + t0) * Cout + o0, Cout, false);
}

// Tiles per register block: kTileBlock x 2 accumulators on targets with 32 vector registers, fewer on 16.
#if HWY_TARGET <= HWY_AVX3
constexpr int kTileBlock = 7;
#else
constexpr int kTileBlock = 6;
#endif

// Tiles padded to whole register blocks.
int64_t PaddedTiles(int64_t T) { return (T + kTileBlock - 1) / kTileBlock * kTileBlock; }

// M = V U for each of the 16 Winograd points: output channels in pairs of vectors, kTileBlock tiles at a time;
// a last single vector with twice the tiles (each broadcast then feeds one multiply-add, and the tiles are what
// reuses the vector of U).
template <int kCin>
void Gemm(const float* V, const float* U, float* M, int64_t Cin, int64_t Cout, int64_t Tpad) {
  const int64_t N = static_cast<int64_t>(hn::Lanes(DF()));
  const int64_t Cout2 = Cout / (2 * N) * (2 * N);
  for (int xi = 0; xi < 16; ++xi) {
    for (int64_t t0 = 0; t0 < Tpad; t0 += kTileBlock)
      for (int64_t o0 = 0; o0 < Cout2; o0 += 2 * N)
        GemmBlock<kTileBlock, 2, kCin>(V, U, M, Cin, Cout, Tpad, xi, t0, o0);
    if (Cout2 == Cout) continue;
    int64_t t0 = 0;
    for (; t0 + 2 * kTileBlock <= Tpad; t0 += 2 * kTileBlock)
      GemmBlock<2 * kTileBlock, 1, kCin>(V, U, M, Cin, Cout, Tpad, xi, t0, Cout2);
    if (t0 < Tpad) GemmBlock<kTileBlock, 1, kCin>(V, U, M, Cin, Cout, Tpad, xi, t0, Cout2);
  }
}

// Floats of scratch for one image (plus 16 for alignment).
int64_t ScratchSizeF32(int64_t Cin, int64_t Cout, int64_t H, int64_t W) {
  const int64_t TH = (H + 1) / 2, TW = (W + 1) / 2, T = TH * TW, Tpad = PaddedTiles(T);
  return (2 * TH + 2) * (2 * TW + 2) * Cin + 16 * Tpad * (Cin + Cout) + H * W * Cout + 64;
}

bool WinogradF32(const float* in, const float* U, const float* bias, float* out, int64_t Cin, int64_t Cout, int64_t H,
                 int64_t W, float* scratch) {
  const DF d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  const int64_t P = H * W, TH = (H + 1) / 2, TW = (W + 1) / 2, T = TH * TW, Tpad = PaddedTiles(T);
  float* xcl = scratch + (16 - reinterpret_cast<uintptr_t>(scratch) / sizeof(float) % 16) % 16;  // 64-byte aligned
  float* V = xcl + (2 * TH + 2) * (2 * TW + 2) * Cin;
  float* M = V + 16 * Tpad * Cin;
  float* ycl = M + 16 * Tpad * Cout;

  InputTiles(in, Cin, H, W, xcl, V, Tpad);

  switch (Cin) {  // the seed CNN's and the cnn model's channel counts at compile time
    case 16: Gemm<16>(V, U, M, Cin, Cout, Tpad); break;
    case 32: Gemm<32>(V, U, M, Cin, Cout, Tpad); break;
    case 64: Gemm<64>(V, U, M, Cin, Cout, Tpad); break;
    default: Gemm<0>(V, U, M, Cin, Cout, Tpad);
  }

  // Output transform; `check` turns NaN if any output is infinite or NaN.
  VF check = hn::Zero(d);
  const int64_t mstep = Tpad * Cout;
  for (int64_t t = 0; t < T; ++t) {
    const int64_t ty = 2 * (t / TW), tx = 2 * (t % TW);
    const bool right = tx + 1 < W, below = ty + 1 < H;  // an odd W or H: the last tiles' extra outputs are dropped
    float* y0 = ycl + (ty * W + tx) * Cout;
    float* y1 = y0 + W * Cout;
    for (int64_t o = 0; o < Cout; o += N) {
      const float* m = M + t * Cout + o;
      VF s0[4], s1[4];
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) {
        const VF m0 = hn::LoadU(d, m + j * mstep), m1 = hn::LoadU(d, m + (4 + j) * mstep);
        const VF m2 = hn::LoadU(d, m + (8 + j) * mstep), m3 = hn::LoadU(d, m + (12 + j) * mstep);
        s0[j] = hn::Add(hn::Add(m0, m1), m2);
        s1[j] = hn::Sub(hn::Sub(m1, m2), m3);
      }
      const VF b = bias ? hn::LoadU(d, bias + o) : hn::Zero(d);
      const VF a = hn::Add(hn::Add(hn::Add(s0[0], s0[1]), s0[2]), b);
      const VF e = hn::Add(hn::Sub(hn::Sub(s0[1], s0[2]), s0[3]), b);
      const VF f = hn::Add(hn::Add(hn::Add(s1[0], s1[1]), s1[2]), b);
      const VF g = hn::Add(hn::Sub(hn::Sub(s1[1], s1[2]), s1[3]), b);
      check = hn::Add(check, hn::Add(hn::Sub(a, a), hn::Sub(e, e)));
      check = hn::Add(check, hn::Add(hn::Sub(f, f), hn::Sub(g, g)));
      hn::StoreU(a, d, y0 + o);
      if (right) hn::StoreU(e, d, y0 + Cout + o);
      if (below) hn::StoreU(f, d, y1 + o);
      if (right && below) hn::StoreU(g, d, y1 + Cout + o);
    }
  }
  if (!hn::AllFalse(d, hn::IsNaN(check))) return false;

  // Back to planes: blocks of kLanes positions x kLanes channels, transposed in registers.
  for (int64_t p0 = 0; p0 < P; p0 += N) {
    const int64_t n = std::min(N, P - p0);
    for (int64_t ob = 0; ob < Cout; ob += N) {
      VF r[kLanes];
#pragma GCC unroll 16
      for (int64_t k = 0; k < static_cast<int64_t>(kLanes); ++k)
        r[k] = k < n ? hn::LoadU(d, ycl + (p0 + k) * Cout + ob) : hn::Zero(d);
      TransposeBlock(r);
#pragma GCC unroll 16
      for (size_t i = 0; i < kLanes; ++i) {
        float* dst = out + (ob + static_cast<int64_t>(i)) * P + p0;
        StoreFirst(d, r[i], static_cast<size_t>(n), dst);
      }
    }
  }
  return true;
}

// ---- weight gradient -------------------------------------------------------------------------------------------
// With M = U (.) V per tile and y = A^T M A: dM = A dy A^T (4x4 from a tile's 2x2 output gradient), dU = the sum
// over tiles of dM (.) V, and dw = G^T dU G.
//   A = [1 0; 1 1; 1 -1; 0 -1]

// Gy[xi][t][o] = A g A^T of each tile's output gradient g; gcl: channel-last, 2 TW positions per row, zero past
// the plane.
void GradTransform(const float* gcl, float* Gy, int64_t Cout, int64_t TW, int64_t T) {
  const DF d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d)), row = 2 * TW * Cout, step = T * Cout;
  for (int64_t t = 0; t < T; ++t) {
    const float* g = gcl + (2 * (t / TW) * 2 * TW + 2 * (t % TW)) * Cout;
    for (int64_t o = 0; o < Cout; o += N) {
      const VF g00 = hn::LoadU(d, g + o), g01 = hn::LoadU(d, g + Cout + o);
      const VF g10 = hn::LoadU(d, g + row + o), g11 = hn::LoadU(d, g + row + Cout + o);
      const VF h[4][2] = {{g00, g01},
                          {hn::Add(g00, g10), hn::Add(g01, g11)},
                          {hn::Sub(g00, g10), hn::Sub(g01, g11)},
                          {hn::Neg(g10), hn::Neg(g11)}};
      float* out = Gy + t * Cout + o;
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) {
        hn::StoreU(h[i][0], d, out + (4 * i) * step);
        hn::StoreU(hn::Add(h[i][0], h[i][1]), d, out + (4 * i + 1) * step);
        hn::StoreU(hn::Sub(h[i][0], h[i][1]), d, out + (4 * i + 2) * step);
        hn::StoreU(hn::Neg(h[i][1]), d, out + (4 * i + 3) * step);
      }
    }
  }
}

// dU[xi][c][o] += the sum over tiles t < T of V[xi][t][c] Gy[xi][t][o], input channels [c0, c0 + CB), output
// channels [o0, o0 + OB N).
template <int CB, int OB>
HWY_INLINE void WeightGradBlock(const float* V, const float* Gy, float* dU, int64_t Cin, int64_t Cout, int64_t Tpad,
                                int64_t T, int xi, int64_t c0, int64_t o0) {
  OuterProducts<CB, OB, true>(V + xi * Tpad * Cin + c0, Cin, Gy + xi * T * Cout + o0, T,
                              dU + (xi * Cin + c0) * Cout + o0, Cout, true);
}

// Input channels per weight-gradient register block (with two vectors of output channels; twice as many with one).
#if HWY_TARGET <= HWY_AVX3
constexpr int kGradChannels = 8;
#else
constexpr int kGradChannels = 4;
#endif

int64_t WeightGradScratchSizeF32(int64_t Cin, int64_t Cout, int64_t H, int64_t W) {
  const int64_t TH = (H + 1) / 2, TW = (W + 1) / 2, T = TH * TW, Tpad = PaddedTiles(T);
  return (2 * TH + 2) * (2 * TW + 2) * Cin + 16 * Tpad * Cin + 4 * T * Cout + 16 * T * Cout + 16 * Cin * Cout + 64;
}

bool WinogradWeightGradF32(const float* const* x, const float* const* gy, int64_t count, float* gw, int64_t Cin,
                           int64_t Cout, int64_t H, int64_t W, float* scratch) {
  const DF d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  const int64_t TH = (H + 1) / 2, TW = (W + 1) / 2, T = TH * TW, Tpad = PaddedTiles(T);
  float* xcl = scratch + (16 - reinterpret_cast<uintptr_t>(scratch) / sizeof(float) % 16) % 16;  // 64-byte aligned
  float* V = xcl + (2 * TH + 2) * (2 * TW + 2) * Cin;
  float* gcl = V + 16 * Tpad * Cin;
  float* Gy = gcl + 4 * T * Cout;
  float* dU = Gy + 16 * T * Cout;
  std::memset(dU, 0, static_cast<size_t>(16 * Cin * Cout) * 4);
  const int64_t Cout2 = Cout / (2 * N) * (2 * N);
  for (int64_t b = 0; b < count; ++b) {
    InputTiles(x[b], Cin, H, W, xcl, V, Tpad);
    ToChannelLast(gy[b], Cout, H, W, gcl, 2 * TH, 2 * TW, 0);
    GradTransform(gcl, Gy, Cout, TW, T);
    for (int xi = 0; xi < 16; ++xi)
      for (int64_t c0 = 0; c0 < Cin; c0 += 2 * kGradChannels) {
        for (int64_t o0 = 0; o0 < Cout2; o0 += 2 * N) {
          WeightGradBlock<kGradChannels, 2>(V, Gy, dU, Cin, Cout, Tpad, T, xi, c0, o0);
          WeightGradBlock<kGradChannels, 2>(V, Gy, dU, Cin, Cout, Tpad, T, xi, c0 + kGradChannels, o0);
        }
        if (Cout2 < Cout) WeightGradBlock<2 * kGradChannels, 1>(V, Gy, dU, Cin, Cout, Tpad, T, xi, c0, Cout2);
      }
  }
  VF check = hn::Zero(d);
  for (int64_t i = 0; i < 16 * Cin * Cout; i += N) {
    const VF v = hn::LoadU(d, dU + i);
    check = hn::Add(check, hn::Sub(v, v));
  }
  if (!hn::AllFalse(d, hn::IsNaN(check))) return false;
  // gw[o][c] += G^T dU G, in double (each dU term enters with a weight of 1, 1/2 or 1/4).
  for (int64_t c = 0; c < Cin; ++c)
    for (int64_t o = 0; o < Cout; ++o) {
      double du[4][4];
      for (int xi = 0; xi < 16; ++xi) du[xi / 4][xi % 4] = dU[(xi * Cin + c) * Cout + o];
      double h[3][4];  // G^T dU
      for (int j = 0; j < 4; ++j) {
        h[0][j] = du[0][j] + 0.5 * (du[1][j] + du[2][j]);
        h[1][j] = 0.5 * (du[1][j] - du[2][j]);
        h[2][j] = 0.5 * (du[1][j] + du[2][j]) + du[3][j];
      }
      float* out = gw + (o * Cin + c) * 9;
      for (int k = 0; k < 3; ++k) {  // (G^T dU) G
        out[3 * k] += static_cast<float>(h[k][0] + 0.5 * (h[k][1] + h[k][2]));
        out[3 * k + 1] += static_cast<float>(0.5 * (h[k][1] - h[k][2]));
        out[3 * k + 2] += static_cast<float>(0.5 * (h[k][1] + h[k][2]) + h[k][3]);
      }
    }
  return true;
}

}  // namespace actlab::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace actlab::kernels {
HWY_EXPORT(WinogradF32);
HWY_EXPORT(ScratchSizeF32);
HWY_EXPORT(WinogradWeightGradF32);
HWY_EXPORT(WeightGradScratchSizeF32);

void winograd_weights(const float* w, int64_t O, int64_t C, bool for_input_grad, float* U) {
  // Forward: input channels c, output channels o, kernel w[o][c]. Input gradient: input channels o (gy's),
  // output channels c, kernel w[o][c] turned by 180 degrees.
  const int64_t cin = for_input_grad ? O : C, cout = for_input_grad ? C : O;
  for (int64_t o = 0; o < O; ++o)
    for (int64_t c = 0; c < C; ++c) {
      double g[3][3];
      for (int t = 0; t < 9; ++t) g[t / 3][t % 3] = w[(o * C + c) * 9 + (for_input_grad ? 8 - t : t)];
      double gg[4][3];  // G g
      for (int k = 0; k < 3; ++k) {
        gg[0][k] = g[0][k];
        gg[1][k] = 0.5 * (g[0][k] + g[1][k] + g[2][k]);
        gg[2][k] = 0.5 * (g[0][k] - g[1][k] + g[2][k]);
        gg[3][k] = g[2][k];
      }
      const int64_t ci = for_input_grad ? o : c, co = for_input_grad ? c : o;
      for (int i = 0; i < 4; ++i) {  // (G g) G^T
        const double u[4] = {gg[i][0], 0.5 * (gg[i][0] + gg[i][1] + gg[i][2]), 0.5 * (gg[i][0] - gg[i][1] + gg[i][2]),
                             gg[i][2]};
        for (int j = 0; j < 4; ++j) U[((4 * i + j) * cin + ci) * cout + co] = static_cast<float>(u[j]);
      }
    }
}

int64_t winograd_scratch_size(int64_t Cin, int64_t Cout, int64_t H, int64_t W) {
  return HWY_DYNAMIC_DISPATCH(ScratchSizeF32)(Cin, Cout, H, W);
}

bool conv3x3_winograd(const float* in, const float* U, const float* bias, float* out, int64_t Cin, int64_t Cout,
                      int64_t H, int64_t W, float* scratch) {
  return HWY_DYNAMIC_DISPATCH(WinogradF32)(in, U, bias, out, Cin, Cout, H, W, scratch);
}

int64_t winograd_weight_grad_scratch_size(int64_t Cin, int64_t Cout, int64_t H, int64_t W) {
  return HWY_DYNAMIC_DISPATCH(WeightGradScratchSizeF32)(Cin, Cout, H, W);
}

bool conv3x3_winograd_weight_grad(const float* const* x, const float* const* gy, int64_t count, float* gw,
                                  int64_t Cin, int64_t Cout, int64_t H, int64_t W, float* scratch) {
  return HWY_DYNAMIC_DISPATCH(WinogradWeightGradF32)(x, gy, count, gw, Cin, Cout, H, W, scratch);
}

}  // namespace actlab::kernels
#endif  // HWY_ONCE
