#!/usr/bin/env bash
# Scale benchmark (issue 15): a LLaMA-shaped preset, bf16 LISA gamma = 2, frozen blocks on disk, the host optimizer,
# on the CPU backend under a device budget: plan, train STEPS steps with a checkpoint, resume for one more step.
# Prints per phase the plan's host + device peak, the peak RSS (wait4 / GNU time) and the step time split.
# Usage: bash bench/scale_run.sh [PRESET=llama2-7b] [DEVICE_BUDGET=4GiB] [DIR=runs/scale] [STEPS=2] [SEQ=64]
set -euo pipefail
PRESET=${1:-llama2-7b}
BUDGET=${2:-4GiB}
DIR=${3:-runs/scale}
STEPS=${4:-2}
SEQ=${5:-64}
STRATA=${STRATA:-build/strata}
command -v /usr/bin/time >/dev/null || { echo "needs GNU time (apt-get install time)"; exit 2; }
OUT="$DIR/$PRESET"  # everything this script writes: the config, logs, peak RSS files and the run folder
[ -e "$OUT" ] && { echo "$OUT exists: remove it or choose another DIR (this script never overwrites)"; exit 2; }
mkdir -p "$OUT"
RUN="$OUT/run"
CFG="$OUT/config.toml"
cat > "$CFG" <<TOML
[model]
preset = "$PRESET"
init_seed = 1
[data]
train = "synthetic"
synthetic_documents = 200
seq_len = $SEQ
[train]
precision = "bf16"
steps = $STEPS
micro_batch = 1
grad_accum = 1
lr = 1e-5
eval_every = 0
[lisa]
layers = 2
interval = 1
[memory]
backend = "cpu"
device_budget = "$BUDGET"
frozen_tier = "disk"
optimizer = "host"
activation_checkpointing = true
prefetch = 1
[output]
dir = "$RUN"
checkpoint_every = 0
keep_checkpoints = 1
TOML
"$STRATA" plan "$CFG" | sed -n '1,16p'
plan_gb=$("$STRATA" plan "$CFG" --json | python3 -c 'import json,sys; p=json.load(sys.stdin)["peak"]; print("%.2f" % ((p["device"]+p["host_pinned"]+p["host"])/1e9))')
phase() {  # name, then the strata arguments
  local name=$1; shift
  local t0=$(date +%s)
  /usr/bin/time -f "%M" -o "$OUT/$name.rss" "$STRATA" "$@" 2>&1 | tee "$OUT/$name.log" | grep -E "^step|placing|checkpoint:|resumed|error" || true
  local kb=$(tail -1 "$OUT/$name.rss")
  echo "== $PRESET $name: $(( $(date +%s) - t0 )) s, peak RSS $(python3 -c "print('%.2f' % ($kb*1024/1e9))") GB (plan host + device $plan_gb GB)"
}
phase train train "$CFG"
phase resume train --resume "$RUN" --set train.steps=$((STEPS + 1))
python3 - "$RUN/metrics.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    j = json.loads(line)
    if "memory" not in j: continue
    io, m = j["io"], j["memory"]
    wait, opt = io["io_wait_seconds"], j["optimizer_seconds"]
    print("step %d: %.1f s = compute %.1f + I/O wait %.1f + optimizer %.1f | disk read %.2f GB | accounted device %.2f"
          " + pinned %.2f + host %.2f GB | rss %.2f GB (peak %.2f, at start %.2f)" % (
          j["step"], j["seconds"], j["seconds"] - wait - opt, wait, opt, io["disk_read_bytes"] / 1e9,
          m["device_peak"] / 1e9, m["host_pinned_peak"] / 1e9, m["host_peak"] / 1e9, m["rss"] / 1e9,
          m["rss_peak"] / 1e9, m["rss_base"] / 1e9))
PY
