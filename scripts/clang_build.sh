# Sourced by scripts/sanitize.sh and scripts/fuzz.sh: configures and builds actlab with clang and sanitizers.
#   clang_build DIR SANITIZERS [cmake options...]
# -O1 with line tables (readable sanitizer stacks, half the compile time of -O2 -g); no benchmarks; the Highway
# kernels for AVX2 and the baseline only (src/CMakeLists.txt, when ACTLAB_SANITIZE is set).
clang_build() {
  local dir=$1 sanitizers=$2
  shift 2
  CC=clang CXX=clang++ cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only" "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only" \
    -DACTLAB_SANITIZE="$sanitizers" -DACTLAB_BUILD_BENCH=OFF "$@" >/dev/null
  cmake --build "$dir" -j"$(nproc)"
}
# What every sanitized run uses: stop at the first report, with a stack. Allocation failure returns null (actlab
# turns it into an error, which tests check). oneDNN and OpenMP allocate at exit in ways LeakSanitizer reports as
# leaks outside actlab, so leak checking is off.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS=halt_on_error=1:allocator_may_return_null=1:second_deadlock_stack=1
