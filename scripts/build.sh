#!/usr/bin/env bash
# Configures and builds Strata into build/ (Release, Ninja). Extra arguments go to cmake, e.g. -DSTRATA_CUDA=OFF.
set -euo pipefail
cd "$(dirname "$0")/.."
launcher=()
# ccache, when installed, makes rebuilds after a checkout switch cheap; the build does not need it.
if command -v ccache >/dev/null 2>&1; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
fi
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" "$@" > build.log 2>&1 || { cat build.log; exit 1; }
grep -E "^-- Strata" build.log || true
cmake --build build -j "$(nproc)"
