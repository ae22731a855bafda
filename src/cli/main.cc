// actlab: the command-line lab. Every error is one line on stderr and a non-zero exit.
#include <cstdio>
#include <iostream>
#include <new>

#include "actlab/dist/process_group.h"
#include "actlab/kernels/control.h"
#include "cli/cli.h"

int main(int argc, char** argv) {
  using namespace actlab;
  cli::Program program(argc, argv);
  if (std::optional<int> status = program.parse(argc, argv)) return *status;
  try {
    if (program.reference) kernels::set_reference_kernels(true);
    if (program.show_version) {
      std::cout << cli::version_text() << "\n";
      return 0;
    }
    if (!program.action) {
      std::cout << program.app.help();
      return 0;
    }
    // Only train is data-parallel; N copies of another command would each do the whole job and write the same files.
    if (dist::launcher_world_size() > 1 && !program.app.got_subcommand("train"))
      throw ValueError(detail::concat("only 'actlab train' runs on several processes; this command was started as one of ",
                                      dist::launcher_world_size(), " (mpirun): run it without mpirun"));
    return program.action();
  } catch (const std::bad_alloc&) {
    // Tensors report allocation failure as actlab::Error; this is any other buffer (a std::vector, a string).
    std::fprintf(stderr, "actlab: error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "actlab: error: %s\n", e.what());
    return 1;
  }
}
