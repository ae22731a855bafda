// Shared test helpers: float64 finite-difference gradient checks.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <vector>

#include "actlab/actlab.h"

namespace actlab::testing {

// Checks d(sum(f(inputs) * w))/d(input) against central differences for every input that requires grad.
// Inputs must be float64 leaves. w is a fixed random weight so every output element matters.
inline void expect_gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f, std::vector<Tensor> inputs,
                             double eps = 1e-6, double atol = 1e-6, double rtol = 1e-4) {
  Tensor y = f(inputs);
  Generator gen(1234);
  Tensor w = randn(y.sizes(), {Dtype::Float64}, &gen);
  Tensor loss = sum(y * w);
  loss.backward();
  for (size_t k = 0; k < inputs.size(); ++k) {
    Tensor& x = inputs[k];
    if (!x.requires_grad()) continue;
    ASSERT_TRUE(x.grad().defined()) << "input " << k << " got no gradient";
    std::vector<double> analytic = x.grad().to_vector();
    double* p = x.data_ptr<double>();
    ASSERT_TRUE(x.is_contiguous());
    for (int64_t i = 0; i < x.numel(); ++i) {
      double orig = p[i];
      NoGradGuard ng;
      p[i] = orig + eps;
      double up = sum(f(inputs) * w).item<double>();
      p[i] = orig - eps;
      double down = sum(f(inputs) * w).item<double>();
      p[i] = orig;
      double numeric = (up - down) / (2 * eps);
      EXPECT_NEAR(analytic[i], numeric, atol + rtol * std::abs(numeric)) << "input " << k << " element " << i;
    }
  }
}

inline Tensor leaf64(Shape shape, uint64_t seed, double scale = 1.0, double shift = 0.0) {
  Generator g(seed);
  Tensor t = (randn(std::move(shape), {Dtype::Float64}, &g) * scale + shift).detach();
  t.requires_grad_(true);
  return t;
}

}  // namespace actlab::testing
