// Seed-CNN training step (forward, backward, SGD update) at batch 64 on random 28x28 input: images/s.
// Compare with tools/bench_layers_torch.py (PyTorch, same model and step) run right before or after, with
// the same thread count (OMP_NUM_THREADS / --threads). Usage: layers_bench [threads] [batch] [iters]
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "actlab/actlab.h"
#include "actlab/lab/train.h"
#include "actlab/nn/functional.h"
#include "actlab/nn/layers.h"
#include "actlab/nn/loss.h"

using namespace actlab;

int main(int argc, char** argv) {
  int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  int64_t batch = argc > 2 ? std::atoll(argv[2]) : 64;
  int iters = argc > 3 ? std::atoi(argv[3]) : 200;
  set_num_threads(threads);
  manual_seed(0);
  // The seed CNN exactly as `actlab train --model seed-cnn` builds it.
  std::shared_ptr<nn::Sequential> model = lab::build_model(lab::TrainConfig{});
  std::vector<Tensor> params = model->parameters();
  Tensor x = randn({batch, 1, 28, 28});
  // Cross-entropy on fixed random labels, as tools/bench_layers_torch.py: a bounded loss (a linear one drove the
  // weights to infinity within a hundred steps, and the step then timed arithmetic on NaN).
  Tensor labels = randint(0, 10, {batch});

  auto step = [&] {
    for (auto& p : params) p.set_grad(Tensor());
    Tensor y = (*model)(x);
    Tensor loss = nn::functional::cross_entropy(y, labels);
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
