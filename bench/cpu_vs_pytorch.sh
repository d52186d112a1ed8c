#!/usr/bin/env bash
# Runs bench_cpu_step and the PyTorch reference (bench/pytorch_cpu_step.py) on the same presets in one go and prints
# Strata's tokens/s as a ratio of PyTorch's. PYTHON: an interpreter with torch + transformers (default ~/venv-torch).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-$HOME/venv-torch/bin/python}
BENCH=${BENCH:-build/bench/bench_cpu_step}
[ -x "$BENCH" ] || { echo "cpu_vs_pytorch: $BENCH not built; run scripts/build.sh first" >&2; exit 1; }
"$PYTHON" -c "import torch, transformers" 2>/dev/null || {
  echo "cpu_vs_pytorch: $PYTHON cannot import torch + transformers; set PYTHON (see README)" >&2; exit 1; }
for preset in ${PRESETS:-small tiny}; do
  ours=$("$BENCH" --preset "$preset" --steps 5 | tee /dev/stderr | sed -n 's/.*->  \([0-9]*\) tokens\/s.*/\1/p')
  ref=$("$PYTHON" bench/pytorch_cpu_step.py --preset "$preset" --steps 5 2>/dev/null | tee /dev/stderr |
        sed -n 's/.*->  \([0-9]*\) tokens\/s.*/\1/p')
  awk -v p="$preset" -v a="$ours" -v b="$ref" \
      'BEGIN { printf "preset %-6s strata %7d tokens/s  pytorch %7d tokens/s  ratio %.2fx\n", p, a, b, a / b }'
done
