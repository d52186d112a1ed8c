#!/usr/bin/env bash
# Device check for a machine with a CUDA GPU (run from anywhere; budget: 8 minutes on a 16-core H200 box):
# configures build/ with -DSTRATA_CUDA=ON (Release, Ninja, benches on), builds everything, runs the op-parity,
# finite-difference and model-parity suites (ctest -R "BackendOps|GradFD|Parity": every op on every available backend,
# cuda:0 included, against the reference backend), then `strata backends`, then compute-sanitizer (memcheck, racecheck,
# synccheck) over the cuda:0 op-parity cases, then a short `strata train` on cuda:0 whose per-step losses must match
# the cpu backend's, then the GPU benchmarks
# (build/bench/bench_gpu, about 1 minute; figures in $LOGS/bench_gpu.json, its summary appended to summary.txt):
#   a. cuBLAS bf16 GEMM TFLOP/s at 8192^3 (cublasGemmEx, fp32 accumulation): the peak the ratios below refer to
#   b. one LLaMA-2-7B block forward + backward, bf16 engine, 4096 tokens: ms, TFLOP/s and the ratio to (a) (>= 0.5)
#   c. pinned host <-> device GB/s (1 GiB cudaMemcpyAsync on a non-blocking stream)
#   d. 8 7B-shaped blocks trained LISA-style (2 of 8), frozen blocks streamed from pinned host memory vs all resident:
#      step-time ratio (<= 1.15)
# Logs go to $OUT when it is set (else to build/gpu_check/); the exit status is non-zero when any step fails.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${BUILD_DIR:-build}
LOGS=${OUT:-$BUILD/gpu_check}
mkdir -p "$LOGS"
STATUS=0
step() {  # step NAME TIMEOUT_S CMD...: runs CMD with a time limit, logs to $LOGS/NAME.log, records failure
  local name=$1 limit=$2
  shift 2
  local t0=$SECONDS
  echo "== $name: $*" | tee -a "$LOGS/summary.txt"
  timeout "$limit" "$@" > "$LOGS/$name.log" 2>&1
  local rc=$?
  echo "   rc=$rc in $((SECONDS - t0)) s" | tee -a "$LOGS/summary.txt"
  tail -n 25 "$LOGS/$name.log"
  [ $rc -eq 0 ] || STATUS=1
  return $rc
}

: > "$LOGS/summary.txt"
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 || true; } | tee "$LOGS/gpu.txt"

# A build folder configured for another source path (copied in from elsewhere) cannot be reused.
if [ -f "$BUILD/CMakeCache.txt" ] && ! grep -q "^CMAKE_HOME_DIRECTORY:INTERNAL=$ROOT\$" "$BUILD/CMakeCache.txt"; then
  echo "removing $BUILD/CMakeCache.txt (configured for another source path)"
  rm -rf "$BUILD/CMakeCache.txt" "$BUILD/CMakeFiles"
fi

step configure 120 cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRATA_CUDA=ON \
  -DSTRATA_BUILD_BENCH=ON || { echo "configure failed"; exit 1; }
grep -E "^-- Strata" "$LOGS/configure.log" || true
step build 300 cmake --build "$BUILD" -j "$(nproc)" || { echo "build failed"; exit 1; }
# One test process at a time: each CUDA backend takes the free device memory as its arena (see README).
step ctest 240 ctest --test-dir "$BUILD" -R "BackendOps|GradFD|Parity|Bf16" -j 1 --output-on-failure --timeout 200
# The per-backend op report (which ops ran on cuda:0) is in the ctest log; keep the lines that mention cuda.
grep -i "cuda" "$LOGS/ctest.log" > "$LOGS/ctest_cuda_lines.txt" || true
step backends 60 "./$BUILD/strata" backends
# On a GPU machine, skipped cuda:0 cases mean the device was not used: that is a failure, never a pass.
if ! grep -Eq "^cuda:0 +available" "$LOGS/backends.log"; then
  echo "FAIL: cuda:0 is not available, so no CUDA op was checked" | tee -a "$LOGS/summary.txt"
  STATUS=1
fi
SKIPPED=$(grep -c "cuda_0.*(Skipped)" "$LOGS/ctest.log" || true)
if [ "${SKIPPED:-0}" -gt 0 ]; then
  echo "FAIL: $SKIPPED cuda:0 test cases were skipped" | tee -a "$LOGS/summary.txt"
  STATUS=1
fi

# What the CPU emulation cannot show: real races, barrier misuse and out-of-bounds accesses on the device.
SANITIZER=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
for tool in memcheck racecheck synccheck; do
  step "sanitizer_$tool" 150 "$SANITIZER" --tool "$tool" --error-exitcode 1 \
    "./$BUILD/tests/test_backend_ops" --gtest_filter='*cuda_0*'
done

# A short training run on cuda:0 against the same run on the cpu backend: per-step losses within 1e-3 relative.
TRAIN_DIR=$(mktemp -d)
for be in cpu cuda:0; do
  step "train_${be/:/_}" 120 "./$BUILD/strata" train configs/tiny.toml --set "memory.backend=$be" \
    --set train.steps=20 --set train.eval_every=0 --set "output.dir=$TRAIN_DIR/${be/:/_}"
done
step train_compare 30 python3 - "$TRAIN_DIR/cpu/metrics.jsonl" "$TRAIN_DIR/cuda_0/metrics.jsonl" <<'PY'
import json, sys
def losses(p): return [j["loss"] for j in map(json.loads, open(p)) if "loss" in j]
a, b = losses(sys.argv[1]), losses(sys.argv[2])
worst = max(abs(x - y) / max(abs(x), 1e-12) for x, y in zip(a, b)) if a and len(a) == len(b) else float("inf")
print(f"{len(a)} steps, worst relative loss difference cuda:0 vs cpu: {worst:.3g}")
sys.exit(0 if worst <= 1e-3 else 1)
PY
rm -rf "$TRAIN_DIR"

# GPU figures. Exit status 3 means "no CUDA device": on this machine that is a failure like any other.
step bench_gpu 240 "./$BUILD/bench/bench_gpu" --json "$LOGS/bench_gpu.json"
sed -n '/^summary (/,$p' "$LOGS/bench_gpu.log" >> "$LOGS/summary.txt"

echo "== done: status $STATUS (logs in $LOGS)" | tee -a "$LOGS/summary.txt"
exit $STATUS
