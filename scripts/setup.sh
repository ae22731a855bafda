#!/usr/bin/env bash
# Installs every Debian 12 package that actlab needs to build, test and run. Idempotent: it asks apt only
# for what is missing, and runs `apt-get update` only then.
set -euo pipefail

packages=(
  # toolchain
  g++ cmake ninja-build pkg-config git ca-certificates
  # libraries (see DESIGN.md: Dependencies)
  libhwy-dev libsleef-dev libdnnl-dev zlib1g-dev libpng-dev libcli11-dev nlohmann-json3-dev
  # data-parallel training (optional at configure time: ACTLAB_MPI) and its tests' mpirun
  libopenmpi-dev openmpi-bin
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev libprotobuf-dev protobuf-compiler chromium
  # fuzzing and sanitizer runs (docs/hardening.md): clang, libFuzzer + sanitizer runtimes, LLVM's OpenMP + Archer
  clang libclang-rt-14-dev libomp-14-dev
  # the default data set
  dataset-fashion-mnist
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages are installed"
  exit 0
fi

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then as_root=(sudo); else
    echo "setup: these packages are missing and installing them needs root: ${missing[*]}" >&2
    exit 1
  fi
fi
echo "setup: installing ${missing[*]}"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
