// The actlab program's command line: every subcommand registered on one CLI11 app, parsed into an Action.
// main() runs the action; the argument fuzzer (fuzz/args_fuzz.cc) parses without running anything.
#include <unistd.h>

#include <cstdio>

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

Program::Program(int argc, char** argv) : app("actlab: PyTorch's activation functions in C++, measured") {
  app.require_subcommand(0, 1);
  app.add_flag("--version", show_version, "print the version, the SIMD target that runs and the thread count");
  app.add_flag("--reference-kernels", reference,
               "run the scalar reference kernels instead of SIMD (reproducible; also ACTLAB_REFERENCE_KERNELS=1)");
  add_eval(app, action);
  add_bench(app, action);
  add_list(app, action);
  add_train(app, action);
  add_visualize(app, action);
  add_compare(app, action, argc, argv);
}

std::optional<int> Program::parse(int argc, char** argv) {
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
  return std::nullopt;
}

}  // namespace actlab::cli
