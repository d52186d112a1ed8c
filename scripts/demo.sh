#!/usr/bin/env bash
# The README's main-job command: installs dependencies, builds, and runs the default job on the CPU backend.
# Until `strata train` lands, the default job is `strata demo`: a seeded tiny LLaMA, forward + backward on
# generated tokens, printing loss, gradient norms, tokens/s and memory per tier.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh > /dev/null
./build/strata demo "$@"
