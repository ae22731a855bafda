// Streaming throughput of the float activation kernels, in GB/s of memory traffic (read x, write y;
// backward reads g and the saved tensor and writes grad_in), next to an OpenMP copy into a preallocated
// buffer with the same thread split. Ratios are only meaningful within one run.
//
//   OMP_NUM_THREADS=2 actlab_kernels_bench --benchmark_filter='Copy|Forward'
#include <benchmark/benchmark.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/activation_kernels.h"

namespace ak = actlab::kernels;

namespace {

std::vector<float> random_data(int64_t n, uint32_t seed) {
  std::vector<float> v(static_cast<size_t>(n));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-10.0f, 10.0f);
  for (auto& x : v) x = u(rng);
  return v;
}

// The same chunking as the kernels: one contiguous chunk per thread.
void parallel_copy(const float* x, float* y, int64_t n) {
  const int threads = omp_get_max_threads();
  const int64_t chunk = ((n + threads - 1) / threads + 63) / 64 * 64;
#pragma omp parallel for schedule(static) if (n >= ak::kParallelThreshold)
  for (int t = 0; t < threads; ++t) {
    const int64_t b = std::min(n, t * chunk), e = std::min(n, b + chunk);
    if (e > b) std::memcpy(y + b, x + b, static_cast<size_t>(e - b) * sizeof(float));
  }
}

void BM_Copy(benchmark::State& state) {
  const int64_t n = state.range(0);
  auto x = random_data(n, 1);
  std::vector<float> y(x.size());
  for (auto _ : state) {
    parallel_copy(x.data(), y.data(), n);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * n * 2 * static_cast<int64_t>(sizeof(float)));
}

ak::ParamValues params_for(ak::ActId id) {
  const auto& row = ak::activation_row(id);
  ak::ParamValues p{};
  for (int i = 0; i < row.num_params; ++i) p[i] = row.params[i].default_value;
  if (id == ak::ActId::Threshold) p = {0.1, 20.0, 0.0};
  return p;
}

void BM_Forward(benchmark::State& state, ak::ActId id, ak::ParamValues p) {
  const int64_t n = state.range(0);
  auto x = random_data(n, 2);
  std::vector<float> y(x.size());
  for (auto _ : state) {
    ak::act_forward(id, p, x.data(), y.data(), n);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * n * 2 * static_cast<int64_t>(sizeof(float)));
}

void BM_Backward(benchmark::State& state, ak::ActId id, ak::ParamValues p) {
  const int64_t n = state.range(0);
  auto x = random_data(n, 3), g = random_data(n, 4);
  std::vector<float> gi(x.size());
  const auto& row = ak::activation_row(id);
  const bool from_output = row.saves == ak::Saves::Output;
  if (from_output) ak::act_forward(id, p, x.data(), x.data(), n);
  for (auto _ : state) {
    ak::act_backward(id, p, from_output, g.data(), x.data(), gi.data(), n);
    benchmark::DoNotOptimize(gi.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * n * 3 * static_cast<int64_t>(sizeof(float)));
}

const int kRegistered = [] {
  for (int64_t n : {int64_t{1} << 24, int64_t{262144}}) {
    benchmark::RegisterBenchmark("Copy", BM_Copy)->Arg(n)->UseRealTime();
  }
  for (int i = 0; i < ak::kNumPointwise; ++i) {
    const auto id = static_cast<ak::ActId>(i);
    std::string name(ak::activation_row(id).name);
    auto p = params_for(id);
    for (int pass = 0; pass < (id == ak::ActId::GELU ? 2 : 1); ++pass) {
      if (pass == 1) {
        p[0] = 1.0;
        name = "GELU_tanh";
      }
      for (int64_t n : {int64_t{1} << 24, int64_t{262144}}) {
        benchmark::RegisterBenchmark(("Forward/" + name).c_str(), BM_Forward, id, p)->Arg(n)->UseRealTime();
        benchmark::RegisterBenchmark(("Backward/" + name).c_str(), BM_Backward, id, p)->Arg(n)->UseRealTime();
      }
    }
  }
  return 0;
}();

}  // namespace

BENCHMARK_MAIN();
