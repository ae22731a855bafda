#!/usr/bin/env bash
# Runs every libFuzzer target (fuzz/*_fuzz.cc) for a bounded time, built with clang + ASan + UBSan in build-san/.
#   bash scripts/fuzz.sh           # 20 s per target (what CI runs)
#   bash scripts/fuzz.sh 600       # 10 minutes per target
#   bash scripts/fuzz.sh 60 png    # one target
# New inputs go to build-san/fuzz-corpus/<target>/ (the committed seeds in fuzz/corpus/<target>/ are only read).
# A crash stops the script with the reproducer's path: fix it, copy the file into fuzz/corpus/<target>/ (ctest
# replays that corpus) and add a regression test to the normal suite.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
targets=(${2:-npy idx checkpoint png spec args})
if [[ ${ACTLAB_FUZZ_NO_BUILD:-0} != 1 ]]; then
  bash scripts/setup.sh
  source scripts/clang_build.sh
  clang_build build-san address,undefined -DACTLAB_FUZZ=ON
else
  source scripts/clang_build.sh
fi
status=0
for t in "${targets[@]}"; do
  corpus=build-san/fuzz-corpus/$t artifacts=build-san/fuzz-artifacts/$t
  mkdir -p "$corpus" "$artifacts"
  options=(-max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
           -artifact_prefix="$artifacts/")
  [[ -f fuzz/$t.dict ]] && options+=(-dict="fuzz/$t.dict")
  [[ $t == args ]] && options+=(-close_fd_mask=3)  # --help and parse errors print; libFuzzer keeps its own output
  log=build-san/fuzz-$t.log
  if build-san/fuzz/fuzz_"$t" "${options[@]}" "$corpus" "fuzz/corpus/$t" >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    echo "fuzz $t: ${runs:-?} runs in ${seconds} s (${speed:-?}/s), no crash; corpus $(ls "$corpus" | wc -l) inputs"
  else
    echo "fuzz $t: CRASH; the reproducer is in $artifacts/ ($log):" >&2
    grep -E "ERROR|SUMMARY|invariant|terminate|Test unit written" "$log" | head -20 >&2
    status=1
  fi
done
exit $status
