#!/usr/bin/env bash
# Configures and builds Strata into build/ (or $BUILD_DIR; Release, Ninja). Extra arguments go to cmake, e.g.
# -DSTRATA_CUDA=OFF.
set -euo pipefail
cd "$(dirname "$0")/.."
launcher=()
# ccache, when installed, makes rebuilds after a checkout switch cheap; the build does not need it.
if command -v ccache >/dev/null 2>&1; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
fi
dir=${BUILD_DIR:-build}
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" "$@" > "$dir.log" 2>&1 || { cat "$dir.log"; exit 1; }
grep -E "^-- Strata" "$dir.log" || true
cmake --build "$dir" -j "$(nproc)"
