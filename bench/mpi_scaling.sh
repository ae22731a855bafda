#!/usr/bin/env bash
# Data-parallel scaling from 1 to 2 ranks on one machine (docs/scaling.md). For each model, the same global batch
# three ways: 1 rank x 1 thread (the base), 1 rank x 2 threads, 2 ranks x 1 thread (mpirun, half the batch each);
# prints training images/s (evaluation and data loading excluded) and the scaling efficiency
#   efficiency = images/s of 2 ranks / (2 x images/s of 1 rank with 1 thread),
# and the share of rank 0's training time it spent blocked in collectives (communication_seconds: gradient
# buckets not finished when backward ended, the buffer broadcast, the per-step loss all-reduce).
# Needs an actlab built with MPI and the Fashion-MNIST package (scripts/setup.sh). On a shared machine the numbers
# are noisy: run it when the machine is quiet and compare only within one run.
#
#   bash bench/mpi_scaling.sh [build/actlab]      # STEPS_SEED=300 STEPS_CNN=40 BATCH=64 to change the lengths
set -euo pipefail
actlab=${1:-build/actlab}
batch=${BATCH:-64}
tmp=$(mktemp -d /tmp/actlab-scaling.XXXX)
trap 'rm -rf "$tmp"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

ips() { python3 -c 'import json,sys; print("%.0f" % json.load(open(sys.argv[1]))["train_images_per_second"])' "$1"; }
blocked() {
  python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print("%.0f%%" % (100*j["communication_seconds"]/j["train_seconds"]))' "$1"
}

echo "model     global batch  1 rank x 1 thread  1 rank x 2 threads  2 ranks x 1 thread  efficiency (2 ranks)  blocked"
for spec in "seed-cnn:${STEPS_SEED:-300}" "cnn:${STEPS_CNN:-40}"; do
  model=${spec%%:*}
  steps=${spec##*:}
  args=(train --model "$model" --act ReLU --max-steps "$steps" --seed 1)
  OMP_NUM_THREADS=1 "$actlab" "${args[@]}" --batch-size "$batch" --threads 1 --metrics-json "$tmp/a.json" >/dev/null
  OMP_NUM_THREADS=2 "$actlab" "${args[@]}" --batch-size "$batch" --threads 2 --metrics-json "$tmp/b.json" >/dev/null
  OMP_NUM_THREADS=1 mpirun -np 2 --oversubscribe --bind-to none "$actlab" "${args[@]}" --batch-size $((batch / 2)) \
    --threads 1 --metrics-json "$tmp/c.json" >/dev/null </dev/null  # mpirun forwards stdin; a background job reading it stops
  a=$(ips "$tmp/a.json") b=$(ips "$tmp/b.json") c=$(ips "$tmp/c.json")
  eff=$(python3 -c "print('%.2f' % ($c / (2 * $a)))")
  printf "%-9s %12s %18s %19s %19s %21s %8s\n" "$model" "$batch" "$a" "$b" "$c" "$eff" "$(blocked "$tmp/c.json")"
done
