#!/usr/bin/env bash
# Set up (scripts/setup.sh) and build actlab into build/. ACTLAB_MPI=AUTO (default), ON or OFF: data-parallel
# training over MPI (scripts/test.sh builds both ways).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DACTLAB_MPI="${ACTLAB_MPI:-AUTO}"
cmake --build build -j"$(nproc)"
