#!/usr/bin/env bash
# The test suite under sanitizers (issue 6), built with clang (scripts/clang_build.sh):
#   bash scripts/sanitize.sh            # both
#   bash scripts/sanitize.sh address    # ASan + UBSan: the whole suite, and every fuzz target over its committed
#                                       # corpus (build-san/, shared with scripts/fuzz.sh)
#   bash scripts/sanitize.sh thread     # TSan: the tests that run threads (build-tsan/)
# ThreadSanitizer: actlab's parallel loops run on its own thread pool (src/core/parallel.cc: std::thread, atomics
# and a mutex, all understood by TSan), so the kernels run with 2 threads and are checked. oneDNN's sgemm is not
# instrumented: its own accesses are not checked (its OpenMP regions, outside the pool's jobs, run on LLVM's libomp
# in this build, whose Archer tool is loaded through OMP_TOOL_LIBRARIES).
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-all}
[[ ${ACTLAB_SANITIZE_NO_SETUP:-0} == 1 ]] || bash scripts/setup.sh
source scripts/clang_build.sh
# ACTLAB_SANITIZE_SKIP_SLOW=1 (CI, to stay within its time): leave out the `actlab compare --quick` run (20 s
# optimized, minutes under ASan; train, probes, plots and the report each have their own tests here) and the
# killed-and-resumed training run (45 s under TSan; LabDeterminism, 1 and 2 threads, stays). Both run in the
# optimized builds of scripts/test.sh.
skip_asan=() skip_tsan=()
if [[ ${ACTLAB_SANITIZE_SKIP_SLOW:-0} == 1 ]]; then
  skip_asan=(-E '^CliCompare[.]QuickRunOnGeneratedDataWritesEveryPart$')
  skip_tsan=(-E '^LabResume[.]KilledRunResumesToTheSameWeights$')
fi
if [[ $which == all || $which == address ]]; then
  clang_build build-san address,undefined -DACTLAB_FUZZ=ON
  ctest --test-dir build-san -j"$(nproc)" --output-on-failure "${skip_asan[@]}"
fi
# The test files that start threads: the thread pool itself, the DataLoader's prefetch thread, the TensorBoard
# writer's flush thread, the kernels, layers (Conv2d, the seed CNN), autograd, and the determinism/resume tests (1
# and 2 threads).
tsan_tests='(core/parallel|data/dataloader|tensorboard/summary_writer|kernels/.*|nn/layers|autograd/autograd|lab/resume)_test[.]cc$'
if [[ $which == all || $which == thread ]]; then
  clang_build build-tsan thread -DACTLAB_TESTS_MATCHING="$tsan_tests"
  TSAN_OPTIONS="$TSAN_OPTIONS:suppressions=$PWD/scripts/tsan.supp" OMP_NUM_THREADS=2 \
    OMP_TOOL_LIBRARIES=/usr/lib/llvm-14/lib/libarcher.so \
    ctest --test-dir build-tsan -j"$(nproc)" --output-on-failure "${skip_tsan[@]}"
fi
