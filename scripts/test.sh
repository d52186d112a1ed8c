#!/usr/bin/env bash
# The README's test command: installs dependencies, builds everything (CUDA code too when nvcc is present) and runs
# every test suite with ctest. GPU-only tests report "skipped" on machines without a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh "$@"
cd build
# Serial on purpose: each test already uses every core (OpenMP + OpenBLAS); parallel ctest oversubscribes the
# cores and spinning OpenMP threads then make the suite 30x slower.
ctest --output-on-failure --timeout 900
