#!/usr/bin/env bash
# Benchmark: training tokens/s of the tiny demo on a quiet machine and next to a competing busy process (one core
# taken), with libgomp's default wait (spin 300,000), a short spin (GOMP_SPINCOUNT=SHORT_SPIN, default 20,000) and the
# passive wait strata adopts (OMP_WAIT_POLICY=PASSIVE), printed as ratios measured in one run. Usage: bench/contention.sh [STRATA] [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
STRATA=${1:-build/strata}
STEPS=${2:-40}
tmp=$(mktemp -d)
busy_pid=""
trap '[ -n "$busy_pid" ] && kill "$busy_pid" 2>/dev/null; rm -rf "$tmp"' EXIT

tokens_per_s() {  # tokens/s over steps 3..N of a run (step 1-2: warm-up), from its metrics.jsonl
  sed -nE 's/.*"seconds":([0-9.e-]+),.*"step":([0-9]+),"tokens":([0-9]+).*/\2 \1 \3/p' "$1/metrics.jsonl" |
    awk '$1 > 2 { s += $2; t += $3 } END { printf "%.0f", t / s }'
}
run() {  # run NAME ENV...: one training run, echoes its tokens/s
  local name=$1
  shift
  env "$@" "$STRATA" train configs/tiny.toml --set "train.steps=$STEPS" --set train.warmup_steps=2 \
    --set train.eval_every=0 --set output.checkpoint_every=0 --set "output.dir=$tmp/$name" > "$tmp/$name.log" 2>&1
  tokens_per_s "$tmp/$name"
}

echo "bench contention: tiny preset, $STEPS steps, $(nproc) cores, OpenMP threads = cores"
q_gomp=$(run quiet_gomp GOMP_SPINCOUNT=300000)
q_strata=$(run quiet_strata OMP_WAIT_POLICY=PASSIVE)
q_short=$(run quiet_short GOMP_SPINCOUNT=${SHORT_SPIN:-20000})
q_one=$(run quiet_one OMP_NUM_THREADS=1)
(while :; do :; done) &
busy_pid=$!
b_gomp=$(run busy_gomp GOMP_SPINCOUNT=300000)
b_strata=$(run busy_strata OMP_WAIT_POLICY=PASSIVE)
b_short=$(run busy_short GOMP_SPINCOUNT=${SHORT_SPIN:-20000})
b_one=$(run busy_one OMP_NUM_THREADS=1)
kill "$busy_pid"
busy_pid=""
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
printf "  %-44s %8s tok/s\n" "quiet, libgomp default spin" "$q_gomp" "quiet, strata passive wait" "$q_strata" \
  "quiet, short spin" "$q_short" "quiet, 1 thread" "$q_one" "one core busy, libgomp default spin" "$b_gomp" \
  "one core busy, strata passive wait" "$b_strata" "one core busy, short spin" "$b_short" "one core busy, 1 thread" "$b_one"
echo "  quiet cost of the passive wait:      strata / libgomp = $(ratio "$q_strata" "$q_gomp")x"
echo "  busy / quiet, libgomp default spin:  $(ratio "$b_gomp" "$q_gomp")x"
echo "  busy / quiet, strata passive wait:   $(ratio "$b_strata" "$q_strata")x (one of the cores is taken: 0.5x is the fair share)"
echo "  busy, strata / libgomp:              $(ratio "$b_strata" "$b_gomp")x"
