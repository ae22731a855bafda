#!/usr/bin/env bash
# Set up, build, run every test under ctest, then install actlab and build the example consumer against
# the installed CMake package (find_package(actlab)). Then the hardening runs (docs/hardening.md): the whole suite
# again under ASan + UBSan, every fuzz target for ACTLAB_FUZZ_SECONDS (20) seconds, and the threaded tests under
# TSan. ACTLAB_TEST_QUICK=1 skips the hardening runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
ctest --test-dir build --output-on-failure -j"$(nproc)"
prefix=$(mktemp -d /tmp/actlab-install.XXXX)
trap 'rm -rf "$prefix" "$prefix-consumer"' EXIT
cmake --install build --prefix "$prefix" >/dev/null
cmake -S examples/consumer -B "$prefix-consumer" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$prefix-consumer" >/dev/null
LD_LIBRARY_PATH="$prefix/lib" "$prefix-consumer/consumer"
echo "1 passed, 0 failed: example consumer built against the installed package"

if [[ ${ACTLAB_TEST_QUICK:-0} != 1 ]]; then
  ACTLAB_SANITIZE_NO_SETUP=1 bash scripts/sanitize.sh address
  ACTLAB_FUZZ_NO_BUILD=1 bash scripts/fuzz.sh "${ACTLAB_FUZZ_SECONDS:-20}"
  ACTLAB_SANITIZE_NO_SETUP=1 bash scripts/sanitize.sh thread
fi
