#!/usr/bin/env bash
# The device check with programs built elsewhere (tools/gpu_pack.sh, carried in .gpucarry/): every cuda:0 test case
# (none may skip), a 40-step train on cuda:0 against the cpu backend (losses within 1e-3), compute-sanitizer
# (memcheck, racecheck, synccheck) over the op-parity cases, and bench_gpu. Logs in $OUT; non-zero when any part fails.
set -uo pipefail
ROOT=$(pwd)
O=${OUT:-/tmp/gpu_check}
mkdir -p "$O"
S=$O/summary.txt
: > "$S"
STATUS=0
log() { echo "$*" | tee -a "$S"; }
step() {  # step NAME LIMIT_S LOGFILE CMD...: runs CMD with a time limit, appends to $O/LOGFILE, records failure
  local name=$1 limit=$2 lf=$3
  shift 3
  local t0=$SECONDS
  echo "===== $name: $*" >> "$O/$lf"
  timeout "$limit" "$@" >> "$O/$lf" 2>&1
  local rc=$?
  log "$name rc=$rc $((SECONDS - t0))s"
  [ $rc -eq 0 ] || STATUS=1
  return $rc
}
G=$(mktemp -d)
tar -C "$G" -xJf .gpucarry/gpu.tar.xz || { log "cannot unpack .gpucarry/gpu.tar.xz (run tools/gpu_pack.sh first)"; exit 1; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv >> "$S" 2>&1
# The tests were built with absolute paths to this checkout's tests/ (goldens, configs).
[ -e /work/main ] || { mkdir -p /work && ln -s "$ROOT" /work/main; }
libdir() {  # the folder holding library $1 on this machine
  for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda-13*/lib64; do
    [ -e "$d/$1" ] && { echo "$d"; return; }
  done
  find / -name "$1" -not -path '/proc/*' 2>/dev/null | head -1 | xargs -r dirname
}
# The packed libstdc++/libgcc_s are used only when this machine's are missing or too old.
mkdir -p "$G/compat" && mv "$G"/lib/libstdc++.so.6 "$G"/lib/libgcc_s.so.1 "$G/compat/" 2>/dev/null
export LD_LIBRARY_PATH=$G/lib:$(libdir libcublas.so.13):$(libdir libcudart.so.13)
"$G/bin/strata" backends > /dev/null 2>&1 || export LD_LIBRARY_PATH=$LD_LIBRARY_PATH:$G/compat
step backends 30 tests.log "$G/bin/strata" backends
grep -Eq "^cuda:0 +available" "$O/tests.log" || { log "FAIL: cuda:0 is not available"; STATUS=1; }
for t in "$G"/bin/test_*; do
  name=$(basename "$t")
  step "$name" 200 tests.log "$t" --gtest_filter='*cuda_0*' --gtest_brief=1
  skipped=$(tail -n 40 "$O/tests.log" | grep -Eo "SKIPPED \] [0-9]+ test" | grep -Eo "[0-9]+" | tail -1)
  [ "${skipped:-0}" -eq 0 ] || { log "FAIL: $name skipped $skipped cuda:0 cases"; STATUS=1; }
done
grep -E "^\[  FAILED  \] .*cuda_0" "$O/tests.log" | sort -u >> "$S"
T=$(mktemp -d)
for be in cpu cuda:0; do
  step "train_${be/:/_}" 120 train.log "$G/bin/strata" train configs/tiny.toml --set "memory.backend=$be" \
    --set train.steps=40 --set train.eval_every=0 --set "output.dir=$T/${be/:/_}"
done
python3 - "$T/cpu/metrics.jsonl" "$T/cuda_0/metrics.jsonl" >> "$S" 2>&1 <<'PY' || STATUS=1
import json, sys
def losses(p): return [j["loss"] for j in map(json.loads, open(p)) if "loss" in j]
a, b = losses(sys.argv[1]), losses(sys.argv[2])
w = max(abs(x - y) / max(abs(x), 1e-12) for x, y in zip(a, b)) if a and len(a) == len(b) else float("inf")
print(f"train compare: {len(a)} steps, worst relative loss difference cuda:0 vs cpu {w:.3g} (limit 1e-3)")
sys.exit(0 if w <= 1e-3 else 1)
PY
# Data parallelism's GPU path: one rank under mpirun sums its gradients with NCCL (libnccl.so.2 loaded at run time).
if command -v mpirun > /dev/null 2>&1; then
  export LD_LIBRARY_PATH=$LD_LIBRARY_PATH:$(libdir libnccl.so.2)
  step nccl_one_rank 120 train.log mpirun --allow-run-as-root -np 1 "$G/bin/strata" train configs/tiny.toml \
    --set memory.backend=cuda:0 --set train.steps=10 --set train.eval_every=0 --set "output.dir=$T/nccl"
  grep -q "(nccl gradient sums)" "$O/train.log" || { log "FAIL: the one-rank run did not sum with NCCL"; STATUS=1; }
else
  log "nccl_one_rank: not run (no mpirun on this machine)"
fi
SAN=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
step sanitizer_memcheck 150 sanitizer.log "$SAN" --tool memcheck --error-exitcode 1 "$G/bin/test_backend_ops" \
  --gtest_filter='*cuda_0*' --gtest_brief=1
step bench_gpu 300 bench.log "$G/bin/bench_gpu" --json "$O/bench_gpu.json"
sed -n '/^summary (/,$p' "$O/bench.log" >> "$S"
for tool in racecheck synccheck; do
  step "sanitizer_$tool" 150 sanitizer.log "$SAN" --tool "$tool" --error-exitcode 1 "$G/bin/test_backend_ops" \
    --gtest_filter='*cuda_0*' --gtest_brief=1
done
grep -E "ERROR SUMMARY|RACECHECK SUMMARY" "$O/sanitizer.log" | sort | uniq -c >> "$S"
log "done: status $STATUS"
exit $STATUS
