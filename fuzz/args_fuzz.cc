// libFuzzer target: the argument layer. The input is split at NUL bytes into arguments after "actlab"; the
// whole command line (every subcommand and option, CLI11's parsing and checks) is parsed, and nothing is run.
// A parse error is the expected outcome (exit status 2); an escaping exception is a crash.
#include <string>
#include <vector>

#include "cli/cli.h"
#include "fuzz_util.h"

ACTLAB_FUZZ_TARGET(args) {
  if (size > 512) return 0;
  std::vector<std::string> args = {"actlab"};
  std::string current;
  for (size_t i = 0; i < size && args.size() < 32; ++i) {
    if (data[i] == 0) {
      args.push_back(current);
      current.clear();
    } else {
      current += static_cast<char>(data[i]);
    }
  }
  if (!current.empty()) args.push_back(current);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int argc = static_cast<int>(args.size());
  actlab::fuzz::expect_only_actlab_errors([&] {
    actlab::cli::Program program(argc, argv.data());
    std::optional<int> status = program.parse(argc, argv.data());
    if (status) ACTLAB_FUZZ_CHECK(*status == 0 || *status == 2);
  });
  return 0;
}
