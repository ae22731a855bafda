#!/usr/bin/env bash
# The test suite under sanitizers (issue 6): AddressSanitizer + UndefinedBehaviorSanitizer over everything,
# then ThreadSanitizer over the threaded kernels and the data loader.
#   bash scripts/sanitize.sh            # both
#   bash scripts/sanitize.sh address    # only ASan + UBSan
#   bash scripts/sanitize.sh thread     # only TSan
# Separate build folders (build-asan, build-tsan); the ASan build alone takes about 28 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
which=${1:-all}
if [[ $which == all || $which == address ]]; then
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DACTLAB_SANITIZE=address,undefined \
    -DACTLAB_BUILD_BENCH=OFF
  cmake --build build-asan -j"$(nproc)"
  # oneDNN and OpenMP allocate at exit in ways LeakSanitizer reports as leaks outside actlab.
  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan -j"$(nproc)" --output-on-failure
fi
if [[ $which == all || $which == thread ]]; then
  cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DACTLAB_SANITIZE=thread -DACTLAB_BUILD_BENCH=OFF
  cmake --build build-tsan -j"$(nproc)"
  # libgomp is not built with TSan: its barriers look like races, so OpenMP runs on one thread here and TSan
  # checks actlab's own threads (the DataLoader's worker, the TensorBoard writer's flush thread).
  OMP_NUM_THREADS=1 TSAN_OPTIONS=halt_on_error=1 \
    ctest --test-dir build-tsan -j"$(nproc)" --output-on-failure -R 'DataLoader|SummaryWriter|EventFile|Kernel'
fi
