#!/usr/bin/env bash
# The README's main-job command: installs dependencies, builds, and trains the embedded default
# (configs/tiny.toml: LISA on the "tiny" preset with generated stories, CPU backend, about a minute).
# Each invocation writes a new run folder runs/tiny-<time>; extra arguments go to `strata train` (e.g. --set ...).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh > /dev/null
./build/strata train configs/tiny.toml --set output.dir="runs/tiny-$(date +%Y%m%d-%H%M%S)" "$@"
