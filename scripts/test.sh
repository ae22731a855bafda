#!/usr/bin/env bash
# Set up, build, run every test under ctest, then install actlab and build the example consumer against
# the installed CMake package (find_package(actlab)).
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
