#!/usr/bin/env bash
# Data parallelism on this machine: training tokens/s of the `small` preset (LISA gamma 2, fp32, cpu) as 1 rank with
# 2 OpenMP threads, 1 rank with 1 thread, and 2 MPI ranks with 1 thread each (the same global batch: 2 ranks x
# grad_accum 1 = 1 rank x grad_accum 2), then the all-reduce bytes per step of LISA against full fine-tuning from
# `strata plan --ranks 2` for small and LLaMA-2-7B. Usage: bench/data_parallel.sh [build/strata] [STEPS]
set -eu
STRATA=${1:-build/strata}
STEPS=${2:-8}
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
cat > "$tmp/small.toml" <<TOML
[model]
preset = "small"
[data]
train = "synthetic"
synthetic_documents = 400
seq_len = 256
[train]
steps = $STEPS
micro_batch = 2
warmup_steps = 1
eval_every = 0
[lisa]
layers = 2
interval = 100
[output]
checkpoint_every = 0
TOML
# Mean tokens/s over the steps after the first (warm-up), from metrics.jsonl.
tps() {
  paste <(grep -o '"tokens":[0-9]*' "$1/metrics.jsonl" | cut -d: -f2) \
        <(grep -o '"seconds":[0-9.e+-]*' "$1/metrics.jsonl" | cut -d: -f2) | tail -n +2 |
    awk '{ t += $1; s += $2 } END { printf "%.0f", t / s }'
}
run() {  # run NAME THREADS RANKS ACCUM
  local dir=$tmp/$1
  if [ "$3" = 1 ]; then
    OMP_NUM_THREADS=$2 "$STRATA" train "$tmp/small.toml" --set train.grad_accum=$4 --set output.dir="$dir" > "$dir.log" 2>&1
  else
    OMP_NUM_THREADS=$2 mpirun -np "$3" --mca btl self,vader --mca btl_vader_single_copy_mechanism none \
      -x OMP_NUM_THREADS "$STRATA" train "$tmp/small.toml" --set train.grad_accum=$4 --set output.dir="$dir" > "$dir.log" 2>&1
  fi
  printf '%-34s %8s tokens/s\n' "$1" "$(tps "$dir")"
}
echo "small preset, LISA gamma 2 of 8, 2 x 256 tokens per micro-batch, 2 micro-batches per step, $STEPS steps"
run "1 rank x 2 threads (grad_accum 2)" 2 1 2
run "1 rank x 1 thread (grad_accum 2)" 1 1 2
run "2 ranks x 1 thread (grad_accum 1)" 1 2 1
ar=$(grep -o '"allreduce_seconds":[0-9.e-]*' "$tmp/2 ranks x 1 thread (grad_accum 1)/metrics.jsonl" | tail -n +2 |
     awk -F: '{ s += $2; n++ } END { printf "%.3f", s / n }')
echo "2 ranks: waiting for the gradient sums after the last backward: $ar s per step"
echo
for cfg in "$tmp/small.toml" "$root/configs/llama2-7b-lisa.toml"; do
  for mode in lisa full; do
    line=$("$STRATA" plan "$cfg" --set train.mode=$mode --ranks 2 | grep "data parallel")
    printf '%-24s %-5s %s\n' "$(basename "$cfg")" "$mode" "$(sed -E 's/.*all-reduces ([0-9.]+ [MG]B).*/\1 per step/' <<<"$line")"
  done
done
echo "($(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); mpirun $(mpirun --version | head -1 | awk '{print $NF}'))"
