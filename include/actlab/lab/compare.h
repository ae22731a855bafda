// `actlab compare`: every claim of the seed's activation comparison, measured. For each activation: kernel speed,
// output and derivative range, gradient stability in a 20-layer MLP (with and without BatchNorm1d, default and
// kaiming init, at initialization and after training), sparsity and dead units after training at a normal and a
// high learning rate, and the seed CNN's learning under one budget; then the guide's rows as small experiments
// (see guide.h). Writes report.md, report.html (self-contained, with plots), results.json and runs/ (TensorBoard).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace actlab::lab {

// ReLU, LeakyReLU, Sigmoid, Tanh, ELU, SELU, GELU, Mish.
std::vector<std::string> default_compare_acts();

struct CompareConfig {
  std::vector<std::string> acts = default_compare_acts();  // any elementwise activation specs
  std::string data_dir;                 // empty: ACTLAB_DATA or /usr/share/datasets/fashion-mnist
  std::string out_dir = "actlab-report";
  bool quick = false;                   // fewer steps and smaller probes; the same parts
  uint64_t seed = 0;
  int64_t binary_class_a = 0;           // the binary row's classes (Fashion-MNIST: 0 T-shirt/top, 6 Shirt)
  int64_t binary_class_b = 6;
  std::string command_line;             // recorded in the report so anyone can rerun it
  std::function<void(const std::string&)> log;  // progress lines (nullptr: silent)
};

struct CompareOutput {
  std::string report_md, report_html, results_json, runs_dir;
  double seconds = 0;
};

// Runs every measurement and writes the output directory (created if missing; report files are replaced
// atomically, so a failed run leaves an earlier report intact). Bad specs, non-elementwise activations and
// missing data fail before any training starts.
CompareOutput run_compare(const CompareConfig& config);

}  // namespace actlab::lab
