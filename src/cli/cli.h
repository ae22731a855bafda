// The actlab program: one file per subcommand, each registering itself on the CLI11 app.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

#include "actlab/core/tensor.h"

namespace actlab::cli {

// A subcommand's body; runs after parsing. Throwing actlab::Error gives one error line and exit 1.
using Action = std::function<int()>;

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
