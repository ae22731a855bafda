// actlab: the command-line lab. Every error is one line on stderr and a non-zero exit.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "actlab/dist/process_group.h"
#include "actlab/kernels/control.h"
#include "cli/cli.h"

namespace actlab::cli {

bool stderr_is_tty() { return ::isatty(STDERR_FILENO) != 0; }

std::string version_text() {
  return detail::concat("actlab 0.1.0\nSIMD target: ", kernels::simd_target(), "\nthreads: ", get_num_threads(),
                        "\nGEMM: ", gemm_backend(),
                        "\nMPI: ", dist::built_with_mpi() ? "yes (mpirun -np N actlab train ...)" : "no (built with ACTLAB_MPI=OFF)");
}

}  // namespace actlab::cli

int main(int argc, char** argv) {
  using namespace actlab;
  CLI::App app{"actlab: PyTorch's activation functions in C++, measured"};
  app.require_subcommand(0, 1);
  bool show_version = false;
  bool reference = false;
  app.add_flag("--version", show_version, "print the version, the SIMD target that runs and the thread count");
  app.add_flag("--reference-kernels", reference,
               "run the scalar reference kernels instead of SIMD (reproducible; also ACTLAB_REFERENCE_KERNELS=1)");
  cli::Action action;
  cli::add_eval(app, action);
  cli::add_bench(app, action);
  cli::add_list(app, action);
  cli::add_train(app, action);
  cli::add_visualize(app, action);
  cli::add_compare(app, action, argc, argv);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string what = e.what();
    std::fprintf(stderr, "actlab: error: %s (see actlab --help)\n", what.c_str());
    return 2;
  }
  try {
    if (reference) kernels::set_reference_kernels(true);
    if (show_version) {
      std::cout << cli::version_text() << "\n";
      return 0;
    }
    if (!action) {
      std::cout << app.help();
      return 0;
    }
    // Only train is data-parallel; N copies of another command would each do the whole job and write the same files.
    if (dist::launcher_world_size() > 1 && !app.got_subcommand("train"))
      throw ValueError(detail::concat("only 'actlab train' runs on several processes; this command was started as one of ",
                                      dist::launcher_world_size(), " (mpirun): run it without mpirun"));
    return action();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "actlab: error: %s\n", e.what());
    return 1;
  }
}
