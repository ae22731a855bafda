// Winograd F(2x2, 3x3) convolution (see conv_kernels.h) on Highway: one source, compiled for every x86-64 target
// and dispatched at run time.
//
// Per image: the input goes channel-last into a zero-bordered copy (one vector of channels per position), each
// 4x4 input tile d becomes V = B^T d B (16 values per channel), for each of the 16 Winograd points a small GEMM
// M[t][o] = sum_c V[t][c] U[c][o] runs with output channels in the vector lanes and tiles in registers, and each
// tile's 2x2 outputs are A^T M A (+ bias), written channel-last and then back to planes. Both layout changes
// go in blocks of one vector of channels x one vector of positions, transposed in registers.
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

#include "kernels/register_inl.h"

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

// The first n < kLanes floats at p, the other lanes zero; and the store of v's first n lanes. (MaskedLoad reads a
// whole aligned vector on SSE4, which may fault or run past the array.)
HWY_INLINE VF LoadFirst(const float* p, int64_t n) {
  HWY_ALIGN float buf[kLanes] = {};
  std::memcpy(buf, p, static_cast<size_t>(n) * sizeof(float));
  return hn::Load(DF(), buf);
}
HWY_INLINE void StoreFirst(VF v, float* p, int64_t n) {
  HWY_ALIGN float buf[kLanes];
  hn::Store(v, DF(), buf);
  std::memcpy(p, buf, static_cast<size_t>(n) * sizeof(float));
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

// M[xi][t][o] for tiles [t0, t0 + R) and output channels [o0, o0 + OB N): R x OB accumulators; each broadcast
// of V feeds OB multiply-adds, each vector of U R of them.
template <int R, int OB>
HWY_INLINE void GemmBlock(const float* V, const float* U, float* M, int64_t Cin, int64_t Cout, int64_t Tpad, int xi,
                          int64_t t0, int64_t o0) {
  const DF d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  VF acc[R][OB];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int k = 0; k < OB; ++k) acc[r][k] = hn::Zero(d);
  const float* v = V + (xi * Tpad + t0) * Cin;
  const float* u = U + xi * Cin * Cout + o0;
  for (int64_t c = 0; c < Cin; ++c) {
    VF uk[OB];
#pragma GCC unroll 4
    for (int k = 0; k < OB; ++k) uk[k] = hn::LoadU(d, u + c * Cout + k * N);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      VF b = hn::Set(d, v[r * Cin + c]);
      if (OB > 1) InRegister(b);
#pragma GCC unroll 4
      for (int k = 0; k < OB; ++k) acc[r][k] = hn::MulAdd(b, uk[k], acc[r][k]);
    }
  }
  float* m = M + (xi * Tpad + t0) * Cout + o0;
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int k = 0; k < OB; ++k) hn::StoreU(acc[r][k], d, m + r * Cout + k * N);
}

// Tiles per register block: kTileBlock x 2 accumulators on targets with 32 vector registers, fewer on 16.
#if HWY_TARGET <= HWY_AVX3
constexpr int kTileBlock = 7;
#else
constexpr int kTileBlock = 6;
#endif

// Tiles padded to whole register blocks.
int64_t PaddedTiles(int64_t T) { return (T + kTileBlock - 1) / kTileBlock * kTileBlock; }

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
  const int64_t PH = 2 * TH + 2, PW = 2 * TW + 2;
  float* xcl = scratch + (16 - reinterpret_cast<uintptr_t>(scratch) / sizeof(float) % 16) % 16;  // 64-byte aligned
  float* V = xcl + PH * PW * Cin;
  float* M = V + 16 * Tpad * Cin;
  float* ycl = M + 16 * Tpad * Cout;

  // Channel-last copy with a zero border: row 0 and rows past H, column 0 and columns past W; the planes go over
  // in blocks of kLanes channels x kLanes positions, each transposed in registers.
  std::memset(xcl, 0, static_cast<size_t>(PW * Cin) * 4);
  for (int64_t y = 0; y < H; ++y) {
    float* row = xcl + (y + 1) * PW * Cin;
    std::memset(row, 0, static_cast<size_t>(Cin) * 4);
    std::memset(row + (W + 1) * Cin, 0, static_cast<size_t>((PW - W - 1) * Cin) * 4);
  }
  std::memset(xcl + (H + 1) * PW * Cin, 0, static_cast<size_t>((PH - H - 1) * PW * Cin) * 4);
  for (int64_t p0 = 0; p0 < P; p0 += N) {
    const int64_t n = std::min(N, P - p0);
    for (int64_t cb = 0; cb < Cin; cb += N) {
      VF r[kLanes];
#pragma GCC unroll 16
      for (size_t i = 0; i < kLanes; ++i) {
        const float* src = in + (cb + static_cast<int64_t>(i)) * P + p0;
        r[i] = n == N ? hn::LoadU(d, src) : LoadFirst(src, n);
      }
      TransposeBlock(r);
      for (int64_t k = 0, y = p0 / W, x = p0 % W; k < n; ++k, x = x + 1 == W ? 0 : x + 1, y += x == 0)
        hn::StoreU(r[k], d, xcl + ((y + 1) * PW + x + 1) * Cin + cb);
    }
  }

  InputTransform(xcl, V, Cin, TW, T, Tpad, PW);

  // Output channels in pairs of vectors, kTileBlock tiles at a time; a last single vector with twice the tiles
  // (each broadcast then feeds one multiply-add, and the tiles are what reuses the vector of U).
  const int64_t Cout2 = Cout / (2 * N) * (2 * N);
  for (int xi = 0; xi < 16; ++xi) {
    for (int64_t t0 = 0; t0 < Tpad; t0 += kTileBlock)
      for (int64_t o0 = 0; o0 < Cout2; o0 += 2 * N) GemmBlock<kTileBlock, 2>(V, U, M, Cin, Cout, Tpad, xi, t0, o0);
    if (Cout2 == Cout) continue;
    int64_t t0 = 0;
    for (; t0 + 2 * kTileBlock <= Tpad; t0 += 2 * kTileBlock)
      GemmBlock<2 * kTileBlock, 1>(V, U, M, Cin, Cout, Tpad, xi, t0, Cout2);
    if (t0 < Tpad) GemmBlock<kTileBlock, 1>(V, U, M, Cin, Cout, Tpad, xi, t0, Cout2);
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
        if (n == N)
          hn::StoreU(r[i], d, dst);
        else
          StoreFirst(r[i], dst, n);
      }
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

}  // namespace actlab::kernels
#endif  // HWY_ONCE
