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
grep -o -m1 -E 'avx512_bf16|amx_bf16' /proc/cpuinfo | sort -u | tr '\n' ' ' | sed 's/^/CPU bf16 features: /; s/$/\n/'
for preset in ${PRESETS:-small tiny}; do
  for precision in ${PRECISIONS:-fp32 bf16}; do  # bf16: Strata's bf16 engine vs PyTorch's bf16 autocast
    ours=$("$BENCH" --preset "$preset" --steps 5 --precision "$precision" | tee /dev/stderr |
           sed -n 's/.*->  \([0-9]*\) tokens\/s.*/\1/p')
    ref=$("$PYTHON" bench/pytorch_cpu_step.py --preset "$preset" --steps 5 --precision "$precision" 2>/dev/null |
          tee /dev/stderr | sed -n 's/.*->  \([0-9]*\) tokens\/s.*/\1/p')
    awk -v p="$preset" -v q="$precision" -v a="$ours" -v b="$ref" \
        'BEGIN { printf "preset %-6s %-4s strata %7d tokens/s  pytorch %7d tokens/s  ratio %.2fx\n", p, q, a, b, a / b }'
  done
done
