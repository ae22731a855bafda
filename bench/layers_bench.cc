// Seed-CNN training step (forward, backward, SGD update) at batch 64 on random 28x28 input: images/s.
// Compare with tools/bench_layers_torch.py (PyTorch, same model and step) run right before or after, with
// the same thread count (OMP_NUM_THREADS / --threads). Usage: layers_bench [threads] [batch] [iters]
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "actlab/actlab.h"
#include "actlab/nn/functional.h"
#include "actlab/nn/layers.h"

using namespace actlab;
namespace F = actlab::nn::functional;

int main(int argc, char** argv) {
  int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  int64_t batch = argc > 2 ? std::atoll(argv[2]) : 64;
  int iters = argc > 3 ? std::atoi(argv[3]) : 200;
  set_num_threads(threads);
  manual_seed(0);
  nn::Conv2d c1(1, 16, 3, {.padding = 1});
  nn::BatchNorm2d bn(16);
  nn::MaxPool2d mp(2);
  nn::Conv2d c2(16, 32, 3, {.padding = 1});
  nn::AdaptiveAvgPool2d ap(1);
  nn::Flatten fl;
  nn::Linear fc(32, 10);
  std::vector<Tensor> params;
  for (nn::Module* m : std::initializer_list<nn::Module*>{&c1, &bn, &c2, &fc})
    for (auto& p : m->parameters()) params.push_back(p);
  Tensor x = randn({batch, 1, 28, 28});
  Tensor lw = randn({batch, 10}) / double(batch);

  auto step = [&] {
    for (auto& p : params) p.set_grad(Tensor());
    Tensor y = fc(fl(ap(F::relu(c2(mp(F::relu(bn(c1(x)))))))));
    Tensor loss = sum(y * lw);
    loss.backward();
    NoGradGuard ng;
    for (auto& p : params) p.add_(p.grad(), -0.01);
  };
  for (int i = 0; i < 20; ++i) step();
  double best = 0;
  for (int r = 0; r < 5; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < iters / 5; ++i) step();
    double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, double(batch) * (iters / 5) / dt);
  }
  std::printf("actlab threads=%d batch=%lld: %.0f images/s (best of 5)\n", threads, (long long)batch, best);
  return 0;
}
