#!/usr/bin/env bash
# Set up, build, run every test under ctest, then install actlab and build the example consumer against
# the installed CMake package (find_package(actlab)).
#
# Both builds CI promises for MPI (issue 7): build/ is first configured with ACTLAB_MPI=OFF, built whole, and the
# tests that differ without MPI run (data parallelism's unit tests, `mpirun` of a non-MPI build is refused, the
# train CLI); then the same tree is reconfigured with ACTLAB_MPI=ON, which recompiles only
# src/dist/process_group.cc and tests/dist/data_parallel_test.cc and relinks, and the whole suite runs, the
# `mpirun -np 2` tests included.
#
# Then the hardening runs (docs/hardening.md): the whole suite again under ASan + UBSan, every fuzz target for
# ACTLAB_FUZZ_SECONDS (6) seconds, and the threaded tests under TSan. The sanitized runs leave out the two
# longest integration tests (ACTLAB_SANITIZE_SKIP_SLOW, see scripts/sanitize.sh): they run in the builds above. ACTLAB_TEST_QUICK=1 skips the hardening
# runs.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
ACTLAB_MPI=OFF bash scripts/build.sh
ctest --test-dir build --output-on-failure -j"$(nproc)" -R '^(Dist[A-Za-z]+|CliTrain|CliVersion|LabTrain\.Reproducible)'
./build/actlab --version | grep -q '^MPI: no' || { echo "the ACTLAB_MPI=OFF build links MPI" >&2; exit 1; }
echo "without MPI: built and tested in $(( $(date +%s) - start )) s"
ACTLAB_MPI=ON bash scripts/build.sh
ctest --test-dir build --output-on-failure -j"$(nproc)"
prefix=$(mktemp -d /tmp/actlab-install.XXXX)
trap 'rm -rf "$prefix" "$prefix-consumer"' EXIT
cmake --install build --prefix "$prefix" >/dev/null
cmake -S examples/consumer -B "$prefix-consumer" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$prefix-consumer" >/dev/null
LD_LIBRARY_PATH="$prefix/lib" "$prefix-consumer/consumer"
echo "1 passed, 0 failed: example consumer built against the installed package"
echo "release builds and tests: $(( $(date +%s) - start )) s"

if [[ ${ACTLAB_TEST_QUICK:-0} != 1 ]]; then
  ACTLAB_SANITIZE_NO_SETUP=1 ACTLAB_SANITIZE_SKIP_SLOW=1 bash scripts/sanitize.sh address
  ACTLAB_FUZZ_NO_BUILD=1 bash scripts/fuzz.sh "${ACTLAB_FUZZ_SECONDS:-6}"
  ACTLAB_SANITIZE_NO_SETUP=1 ACTLAB_SANITIZE_SKIP_SLOW=1 bash scripts/sanitize.sh thread
fi
echo "all of scripts/test.sh: $(( $(date +%s) - start )) s"
