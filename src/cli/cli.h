// The actlab program: one file per subcommand, each registering itself on the CLI11 app.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <optional>
#include <string>

#include "actlab/core/tensor.h"

namespace actlab::cli {

// A subcommand's body; runs after parsing. Throwing actlab::Error gives one error line and exit 1.
using Action = std::function<int()>;

// The whole command line: the app with every subcommand registered, and what parsing it chose.
struct Program {
  Program(int argc, char** argv);  // argv: for the command line compare records in its report
  // Parses argv. nullopt when `action` (or --version) is ready to run; otherwise the exit status after help
  // (0) or a parse error (2, with one "actlab: error:" line on stderr).
  std::optional<int> parse(int argc, char** argv);

  CLI::App app;
  Action action;
  bool show_version = false;
  bool reference = false;
};
std::string version_text();

void add_eval(CLI::App& app, Action& action);
void add_bench(CLI::App& app, Action& action);
void add_list(CLI::App& app, Action& action);
void add_train(CLI::App& app, Action& action);
void add_visualize(CLI::App& app, Action& action);
void add_compare(CLI::App& app, Action& action, int argc, char** argv);
std::string activation_table_markdown();

// .npy <-> Tensor
Tensor load_npy_tensor(const std::string& path);
std::vector<unsigned char> encode_npy_tensor(const Tensor& t);  // float32 or float64, any strides

// True when stderr is a terminal (progress bars go there only then).
bool stderr_is_tty();

}  // namespace actlab::cli
