#!/usr/bin/env bash
# The README's test command: installs dependencies, builds everything (CUDA code too when nvcc is present) and runs
# every test suite with ctest. GPU-only tests report "skipped" on machines without a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh "$@"
cd build
ctest --output-on-failure -j "$(nproc)" --timeout 900
