#!/usr/bin/env bash
# Strata's CPU engine against PyTorch (bench/pytorch_cpu_step.py: HF LlamaForCausalLM, fp32 or bf16 autocast) on the
# same presets, batch and threads, in one go: ROUNDS rounds, each running every engine once in turn (so drift of a
# shared machine hits all alike), then per preset and precision the median tokens/s and the ratios.
# PYTHON: an interpreter with torch + transformers (default ~/venv-torch). PRESETS, PRECISIONS, ROUNDS, STEPS.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-$HOME/venv-torch/bin/python}
BENCH=${BENCH:-build/bench/bench_cpu_step}
PRESETS=${PRESETS:-tiny small 7b-block}
PRECISIONS=${PRECISIONS:-fp32 bf16}
ROUNDS=${ROUNDS:-3}
[ -x "$BENCH" ] || { echo "cpu_vs_pytorch: $BENCH not built; run scripts/build.sh first" >&2; exit 1; }
"$PYTHON" -c "import torch, transformers" 2>/dev/null || {
  echo "cpu_vs_pytorch: $PYTHON cannot import torch + transformers; set PYTHON (see README)" >&2; exit 1; }
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
echo "CPU: $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), $(nproc) threads;" \
     "ISA: $(grep -o -m1 -wE 'avx2|avx512f|avx512_bf16|amx_bf16|amx_tile' /proc/cpuinfo | sort -u | tr '\n' ' ')"
"$PYTHON" -c "import torch; print('PyTorch', torch.__version__, 'CPU capability:', torch.backends.cpu.get_cpu_capability())"
tokens_per_s() { sed -n 's/.*->  \([0-9]*\) tokens\/s.*/\1/p'; }
results=$(mktemp)
trap 'rm -f "$results"' EXIT
for round in $(seq "$ROUNDS"); do
  for preset in $PRESETS; do
    steps=${STEPS:-5}
    [ "$preset" = 7b-block ] && steps=${STEPS:-3}
    for precision in $PRECISIONS; do
      ours=$("$BENCH" --preset "$preset" --steps "$steps" --precision "$precision" | tokens_per_s)
      ref=$("$PYTHON" bench/pytorch_cpu_step.py --preset "$preset" --steps "$steps" --precision "$precision" \
            2>/dev/null | tokens_per_s)
      echo "$preset $precision $ours $ref" >> "$results"
      echo "round $round: $preset $precision strata $ours tokens/s, pytorch $ref tokens/s" >&2
    done
  done
done
# Medians over the rounds; per preset the bf16/fp32 speed-up of each engine.
python3 - "$results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
med = {}
for p, q, a, b in rows:
    med.setdefault((p, q), ([], []))
    med[(p, q)][0].append(float(a)); med[(p, q)][1].append(float(b))
print(f"{'preset':9} {'precision':9} {'strata tok/s':>12} {'pytorch tok/s':>13} {'strata/pytorch':>15}")
for (p, q), (a, b) in med.items():
    a, b = statistics.median(a), statistics.median(b)
    med[(p, q)] = (a, b)
    print(f"{p:9} {q:9} {a:12.0f} {b:13.0f} {a / b:14.2f}x")
for p in dict.fromkeys(k[0] for k in med):
    if (p, "fp32") in med and (p, "bf16") in med:
        (a32, b32), (a16, b16) = med[(p, "fp32")], med[(p, "bf16")]
        print(f"{p:9} bf16/fp32: strata {a16 / a32:.2f}x, pytorch {b16 / b32:.2f}x")
PY
