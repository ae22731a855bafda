// actlab compare: the main job. Measures every claim of the seed's activation comparison and writes
// report.md, report.html, results.json and TensorBoard runs (see lab/compare.h).
#include <cstdio>

#include "actlab/actlab.h"
#include "actlab/lab/compare.h"
#include "cli/cli.h"

namespace actlab::cli {

namespace {
struct CompareOptions {
  lab::CompareConfig config;
  int threads = 0;
  std::vector<int64_t> binary_classes;
};

std::string join_args(int argc, char** argv) {
  std::string s = "actlab";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    bool plain = a.find_first_of(" '\"()$\\") == std::string::npos;
    s += " " + (plain ? a : "'" + a + "'");
  }
  return s;
}
}  // namespace

void add_compare(CLI::App& app, Action& action, int argc, char** argv) {
  auto opt = std::make_shared<CompareOptions>();
  lab::CompareConfig& c = opt->config;
  c.command_line = join_args(argc, argv);
  CLI::App* sub = app.add_subcommand("compare", "measure every claim of the seed's activation comparison and write a report");
  sub->add_flag("--quick", c.quick, "fewer steps and smaller probes (same parts; under 2 minutes)");
  sub->add_option("--acts", c.acts, "activation specs, comma-separated (default: ReLU,LeakyReLU,Sigmoid,Tanh,ELU,SELU,GELU,Mish)")
      ->delimiter(',');
  sub->add_option("--data", c.data_dir, "MNIST-format data directory (default: $ACTLAB_DATA or /usr/share/datasets/fashion-mnist)");
  sub->add_option("--out", c.out_dir, "output directory (default: ./actlab-report)");
  sub->add_option("--threads", opt->threads, "threads (default: all cores)")->check(CLI::Range(1, 1024));
  sub->add_option("--seed", c.seed, "seed for weights, shuffling and noise (default 0)");
  sub->add_option("--binary-classes", opt->binary_classes, "the binary row's two classes (default 0,6: T-shirt/top vs Shirt)")
      ->delimiter(',')
      ->expected(2)
      ->check(CLI::Range(int64_t{0}, int64_t{255}));
  sub->callback([&action, opt] {
    action = [opt]() -> int {
      lab::CompareConfig& c = opt->config;
      if (opt->threads > 0) set_num_threads(opt->threads);
      if (opt->binary_classes.size() == 2) {
        if (opt->binary_classes[0] == opt->binary_classes[1])
          throw ValueError("--binary-classes: give two different classes");
        c.binary_class_a = opt->binary_classes[0];
        c.binary_class_b = opt->binary_classes[1];
      }
      c.log = [](const std::string& line) {
        std::fprintf(stderr, "%s\n", line.c_str());
        std::fflush(stderr);
      };
      lab::CompareOutput out = lab::run_compare(c);
      std::printf("report: %s\nreport (HTML): %s\nresults: %s\nTensorBoard runs: %s\ntook %.0f s\n", out.report_md.c_str(),
                  out.report_html.c_str(), out.results_json.c_str(), out.runs_dir.c_str(), out.seconds);
      return 0;
    };
  });
}

}  // namespace actlab::cli
