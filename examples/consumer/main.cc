// The seed's inplace trap and a gradient, through the installed library.
#include <actlab/actlab.h>
#include <actlab/nn/activation.h>

#include <iostream>

namespace nn = actlab::nn;

int main() {
  auto x = actlab::tensor({-1.0, 2.0});
  auto y = nn::ReLU(/*inplace=*/true)(x);  // x is now [0, 2], as in PyTorch
  std::cout << "x after ReLU(inplace=True): " << x << "\n";

  auto z = actlab::tensor({-1.0, 0.0, 2.0}, {.requires_grad = true});
  auto out = nn::LeakyReLU({.negative_slope = 0.2})(z);
  out.sum().backward();
  std::cout << "LeakyReLU(0.2) gradient: " << z.grad() << "\n";
  bool ok = x.to_vector() == std::vector<double>{0, 2} && z.grad().to_vector()[1] == 0.2f;
  return ok ? 0 : 1;
}
