#!/usr/bin/env bash
# Configures and builds Strata into build/ (Release, Ninja). Extra arguments go to cmake, e.g. -DSTRATA_CUDA=OFF.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" > build.log 2>&1 || { cat build.log; exit 1; }
grep -E "^-- Strata" build.log || true
cmake --build build -j "$(nproc)"
