#!/usr/bin/env bash
# The README's test command: installs dependencies, builds everything (CUDA code too when nvcc is present) and runs
# every test suite with ctest. GPU-only tests report "skipped" on machines without a GPU. `--sanitize`: the same
# suites built with AddressSanitizer + UndefinedBehaviorSanitizer in build-asan/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ "${1:-}" = "--sanitize" ]; then
  # The same suites under AddressSanitizer + UndefinedBehaviorSanitizer, in build-asan/ (CUDA compiler off: the CUDA
  # sources still run through the emulation; benches off). Any report fails its test.
  shift
  BUILD_DIR=build-asan bash scripts/build.sh -DSTRATA_SANITIZE=ON -DSTRATA_CUDA=OFF -DSTRATA_BUILD_BENCH=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"
  cd build-asan
  export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:strict_string_checks=1 UBSAN_OPTIONS=print_stacktrace=1
  exec ctest --output-on-failure --timeout 1800
fi
bash scripts/build.sh "$@"
cd build
# Serial on purpose: each test already uses every core (OpenMP + OpenBLAS); parallel ctest oversubscribes the
# cores and spinning OpenMP threads then make the suite 30x slower.
ctest --output-on-failure --timeout 900
