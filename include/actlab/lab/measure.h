// The measurements behind `actlab compare` (and `actlab bench`), each usable on its own:
// kernel throughput, output and derivative range of an activation, and per-layer gradient norms.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "actlab/core/tensor.h"
#include "actlab/nn/sequential.h"

namespace actlab::lab {

// Best wall time of f over repeats lasting at least min_time seconds (at least 5 runs).
template <class F>
double best_seconds(F&& f, double min_time) {
  using clock = std::chrono::steady_clock;
  double best = 1e30, total = 0;
  int runs = 0;
  while ((total < min_time || runs < 5) && runs < 100000) {
    auto t0 = clock::now();
    f();
    double s = std::chrono::duration<double>(clock::now() - t0).count();
    best = std::min(best, s);
    total += s;
    ++runs;
  }
  return best;
}

// Throughput of an activation on a float32 input of `shape` (values randn * 3), as `actlab bench` reports it:
// forward = an out-of-place module call without gradients (8 bytes moved per element), backward = the
// autograd node applied to an output gradient, allocating the input gradient (12 bytes per element).
struct Speed {
  double forward_seconds = 0, backward_seconds = 0;
  double forward_gbps = 0, backward_gbps = 0;
};
Speed measure_speed(const std::string& spec, const Shape& shape, double min_time);
// An out-of-place copy of n float32 elements (8 bytes per element), in GB/s.
double measure_copy_gbps(int64_t n, double min_time);
// The same for a copy of src (a float32 tensor), so that repeated measurements share one source.
double measure_copy_gbps(const Tensor& src, double min_time);

// An elementwise activation's output and derivative over a sweep of [lo, hi] (float64, derivative by
// autograd), and its range: the infimum and supremum over the sweep and the far tails (x = +-1e6), whether
// each bound is attained within the sweep, and PyTorch-style text such as "[0, inf)" or "(0, 1)".
struct Range {
  std::vector<double> x, y, dy;
  double y_min = 0, y_max = 0;          // over sweep and tails
  bool min_attained = false, max_attained = false;
  bool unbounded_below = false, unbounded_above = false;
  double dy_min = 0, dy_max = 0;        // over the sweep
  double x_at_dy_max = 0;
  std::string text;                     // e.g. "[0, inf)"
};
// Throws ValueError for activations that are not elementwise (Softmax family, Softmax2d, GLU).
Range measure_range(const std::string& spec, double lo = -8.0, double hi = 8.0, int64_t points = 1601);

// The L2 norm of all elements, accumulated in float64.
double l2_norm(const Tensor& t);

// Gradient norm (L2) of every weight matrix or kernel (parameters named "*.weight" with 2 or more dims: Linear
// and Conv2d) after backward of the mean cross-entropy of model(x) against labels y, in layer order. The model
// stays in its train/eval mode; its gradients are cleared afterwards.
std::vector<double> weight_grad_norms(nn::Sequential& model, const Tensor& x, const Tensor& y);

}  // namespace actlab::lab
