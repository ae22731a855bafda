// actlab bench: throughput of every activation's forward (an out-of-place module call) and backward (the
// op's backward node given an output gradient, allocating the input gradient), beside an out-of-place copy
// of the same size measured in the same run.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "actlab/actlab.h"
#include "actlab/core/file.h"
#include "actlab/kernels/control.h"
#include "actlab/lab/measure.h"
#include "actlab/nn/activation.h"
#include "cli/cli.h"

namespace actlab::cli {

namespace {

struct BenchOptions {
  int threads = 0;
  std::string json;
  std::vector<int64_t> sizes{4096, 262144, 16777216};
  std::vector<std::string> ops;
  double min_time = 0.2;
};

using kernels::ActId;

// The spec and input shape each activation is measured with (tools/bench_torch.py uses the same).
std::string bench_spec(const kernels::ActivationRow& row) {
  switch (row.id) {
    case ActId::Threshold: return "Threshold(threshold=0.1, value=20.0)";
    case ActId::Softmax:
    case ActId::LogSoftmax:
    case ActId::Softmin: return std::string(row.name) + "(dim=-1)";
    default: return std::string(row.name);
  }
}

Shape bench_shape(ActId id, int64_t n) {
  switch (id) {
    case ActId::Softmax:
    case ActId::LogSoftmax:
    case ActId::Softmin:
    case ActId::GLU: return {n / 256, 256};
    case ActId::Softmax2d: return {n / 1024, 4, 16, 16};
    default: return {n};
  }
}

}  // namespace

void add_bench(CLI::App& app, Action& action) {
  auto opt = std::make_shared<BenchOptions>();
  CLI::App* sub = app.add_subcommand("bench", "measure every activation's forward and backward against copy bandwidth");
  sub->add_option("--threads", opt->threads, "threads (default: all cores)")->check(CLI::Range(1, 1024));
  sub->add_option("--json", opt->json, "write the results as JSON to this file");
  sub->add_option("--sizes", opt->sizes, "element counts (multiples of 1024)")->delimiter(',')->check(CLI::Range(int64_t{1024}, int64_t{1} << 30));
  sub->add_option("--ops", opt->ops, "only these activations (names, comma-separated)")->delimiter(',');
  sub->add_option("--min-time", opt->min_time, "seconds of repeats per measurement (best run counts)")->check(CLI::Range(0.0, 60.0));
  sub->callback([&action, opt] {
    action = [opt]() -> int {
      if (opt->threads > 0) set_num_threads(opt->threads);
      for (int64_t n : opt->sizes)
        if (n % 1024 != 0) throw Error(detail::concat("--sizes: ", n, " is not a multiple of 1024"));
      for (const auto& name : opt->ops) nn::parse_activation_spec(name);  // unknown names fail early
      nlohmann::json results = nlohmann::json::array();
      nlohmann::json copies = nlohmann::json::object();
      std::printf("%-40s %-8s %10s %10s %10s %8s\n", "op", "pass", "numel", "GB/s", "copy GB/s", "vs copy");
      for (int64_t n : opt->sizes) {
        // Memory bandwidth on a shared machine drifts within minutes, so the copy is measured before every
        // activation and after the last, and each activation is compared with the mean of the two copies
        // around it (ratio_to_copy; the result's copy_gbps). copy_gbps per size is the mean of them all.
        const Tensor src = randn({n});
        double before = lab::measure_copy_gbps(src, opt->min_time), copy_sum = before;
        int copy_count = 1;
        std::printf("%-40s %-8s %10lld %10.2f %10.2f %8.3f\n", "copy", "forward", static_cast<long long>(n), before,
                    before, 1.0);
        for (const auto& row : kernels::kActivationTable) {
          if (!opt->ops.empty() &&
              std::find(opt->ops.begin(), opt->ops.end(), std::string(row.name)) == opt->ops.end())
            continue;
          std::string spec = bench_spec(row);
          lab::Speed sp = lab::measure_speed(spec, bench_shape(row.id, n), opt->min_time);
          const double after = lab::measure_copy_gbps(src, opt->min_time);
          const double copy_gbps = 0.5 * (before + after);
          copy_sum += after;
          ++copy_count;
          before = after;
          for (auto [pass, secs, bytes] : {std::tuple{"forward", sp.forward_seconds, 8.0}, std::tuple{"backward", sp.backward_seconds, 12.0}}) {
            double gbps = bytes * static_cast<double>(n) / secs / 1e9;
            results.push_back({{"op", spec}, {"pass", pass}, {"numel", n}, {"seconds", secs}, {"gbps", gbps},
                               {"copy_gbps", copy_gbps}, {"ratio_to_copy", gbps / copy_gbps}});
            std::printf("%-40s %-8s %10lld %10.2f %10.2f %8.3f\n", spec.c_str(), pass, static_cast<long long>(n), gbps,
                        copy_gbps, gbps / copy_gbps);
          }
          std::fflush(stdout);
        }
        copies[std::to_string(n)] = copy_sum / copy_count;
      }
      if (!opt->json.empty()) {
        nlohmann::json doc = {{"results", results},
                              {"copy_gbps", copies},
                              {"threads", get_num_threads()},
                              {"simd_target", kernels::simd_target()},
                              {"bytes_per_element", {{"forward", 8}, {"backward", 12}}}};
        std::string text = doc.dump(2) + "\n";
        write_file_atomic(opt->json, text.data(), text.size());
      }
      return 0;
    };
  });
}

}  // namespace actlab::cli
