#!/usr/bin/env bash
# Data-parallel training under mpirun on this machine (loopback / shared memory only, every run bounded by
# `timeout`): 2 ranks equal 1 rank with grad_accum doubled (per-step losses within 1e-6 relative), every rank holds
# the same weights at each checkpoint, a resume is bit-exact (sharded optimizer state too: the same bits as unsharded),
# a rank that hangs or dies ends the job with an error naming it in bounded time, and ranks started with different
# configs are refused. Usage: test_data_parallel.sh strata
set -u
STRATA=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'pkill -KILL -f "$tmp/" 2>/dev/null; rm -rf "$tmp"' EXIT
source "$(dirname "$0")/lib.sh"  # fails, ok, fail, expect, losses
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMP_NUM_THREADS=1  # results are bitwise reproducible at one thread count: the same in every run here
# Under scripts/test.sh --sanitize: OpenMPI keeps MPI_Init's allocations in components it unloads at MPI_Finalize,
# which LeakSanitizer reports without frames to suppress; leak checking is off for these processes only (every
# other AddressSanitizer check stays on, and every other suite checks leaks).
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
MPIRUN=(timeout 120 mpirun --mca btl self,vader --mca btl_vader_single_copy_mechanism none -x OMP_NUM_THREADS -x ASAN_OPTIONS)
# close A B TOL: both loss columns have the same length (> 0) and agree within TOL relative
close() {
  paste <(losses "$1") <(losses "$2") | awk -v tol="$3" '
    NF != 2 { bad = 1 } { n++; d = $1 - $2; if (d < 0) d = -d; r = $2 < 0 ? -$2 : $2; if (!(d <= tol * r)) bad = 1 }
    END { exit (bad || n == 0) }'
}
base=(--set train.steps=6 --set train.warmup_steps=1 --set train.micro_batch=2 --set data.seq_len=64
      --set output.checkpoint_every=3 --set output.keep_checkpoints=5 --set train.eval_every=0 --set lisa.interval=2)

# 1. Two ranks against one rank with grad_accum doubled: fp32 LISA on cpu; bf16 with frozen blocks on the host tier
#    and the host optimizer (bf16 sums round differently: 1e-3).
for variant in fp32 bf16; do
  extra=()
  tol=1e-6
  if [ "$variant" = bf16 ]; then
    extra=(--set train.precision=bf16 --set memory.frozen_tier=host --set memory.optimizer=host)
    tol=1e-3
  fi
  "$STRATA" train "$root/configs/tiny.toml" "${base[@]}" "${extra[@]}" --set train.grad_accum=2 \
    --set output.dir="$tmp/one-$variant" > "$tmp/one-$variant.log" 2>&1 || fail "1 rank ($variant) did not finish"
  "${MPIRUN[@]}" -np 2 "$STRATA" train "$root/configs/tiny.toml" "${base[@]}" "${extra[@]}" --set train.grad_accum=1 \
    --set output.dir="$tmp/two-$variant" > "$tmp/two-$variant.log" 2>&1 || { fail "2 ranks ($variant) did not finish"; tail -5 "$tmp/two-$variant.log"; }
  if close "$tmp/two-$variant" "$tmp/one-$variant" "$tol"; then
    ok "$variant: 2 ranks = 1 rank with grad_accum 2 within $tol: $(losses "$tmp/two-$variant" | tr '\n' ' ')"
  else
    fail "$variant: 2 ranks differ from 1 rank with grad_accum 2:"; paste <(losses "$tmp/two-$variant") <(losses "$tmp/one-$variant")
  fi
  n=$(grep -c "weights identical on 2 ranks" "$tmp/two-$variant.log")
  [ "$n" = 2 ] && ok "$variant: both ranks' weights identical at steps 3 and 6" || fail "$variant: weight check lines: $n (want 2)"
done

# The all-reduce bytes per step that the plan predicts are the bytes the 2-rank run summed (metrics.jsonl).
planned=$("$STRATA" plan "$root/configs/tiny.toml" "${base[@]}" --ranks 2 --json | grep -o '"allreduce_bytes": *[0-9]*' | grep -o '[0-9]*$')
measured=$(grep -o '"allreduce_bytes":[0-9]*' "$tmp/two-fp32/metrics.jsonl" | cut -d: -f2 | sort -u)
[ -n "$planned" ] && [ "$planned" = "$measured" ] && ok "all-reduce bytes per step: planned $planned = measured" ||
  fail "all-reduce bytes per step: planned '$planned', measured '$measured'"

# distributed.shard_optimizer: each rank holds and updates the optimizer state of the blobs it owns and sends their new
# weights to the others. The same bits as the unsharded run (weights and optimizer state: rank 0 gathers the other
# owners' state into the checkpoint), less memory on rank 0, exactly its plan.
peak() { grep -o "\"$2_peak\":[0-9]*" "$1/metrics.jsonl" | cut -d: -f2 | sort -n | tail -1; }
planned_peak() { "$STRATA" plan "$root/configs/tiny.toml" "${@:2}" --ranks 2 --json | grep -A5 '"peak"' | grep "\"$1\"" | grep -o '[0-9]*'; }
for variant in fp32 bf16; do
  extra=()
  [ "$variant" = bf16 ] && extra=(--set train.precision=bf16 --set memory.frozen_tier=host --set memory.optimizer=host)
  "${MPIRUN[@]}" -np 2 "$STRATA" train "$root/configs/tiny.toml" "${base[@]}" "${extra[@]}" --set distributed.shard_optimizer=true \
    --set output.dir="$tmp/shard-$variant" > "$tmp/shard-$variant.log" 2>&1 || { fail "sharded 2 ranks ($variant) did not finish"; tail -5 "$tmp/shard-$variant.log"; }
  if cmp -s "$tmp/shard-$variant/checkpoints/step_00000006/weights.safetensors" "$tmp/two-$variant/checkpoints/step_00000006/weights.safetensors" &&
     cmp -s "$tmp/shard-$variant/checkpoints/step_00000006/optimizer.safetensors" "$tmp/two-$variant/checkpoints/step_00000006/optimizer.safetensors"; then
    ok "$variant: the sharded optimizer gives the unsharded run's weights and optimizer state bit for bit"
  else
    fail "$variant: the sharded optimizer's checkpoint differs from the unsharded one"
  fi
  tier=device
  [ "$variant" = bf16 ] && tier=host_pinned
  sharded=$(peak "$tmp/shard-$variant" $tier) whole=$(peak "$tmp/two-$variant" $tier)
  plan=$(planned_peak $tier "${base[@]}" "${extra[@]}" --set distributed.shard_optimizer=true)
  if [ -n "$sharded" ] && [ "$sharded" -lt "$whole" ] && [ "$sharded" = "$plan" ]; then
    ok "$variant: rank 0's $tier peak $sharded < $whole unsharded, = its plan"
  else
    fail "$variant: rank 0's $tier peak: sharded '$sharded', unsharded '$whole', planned '$plan'"
  fi
done
cp -r "$tmp/shard-fp32" "$tmp/shard-resumed" && rm -rf "$tmp/shard-resumed/checkpoints/step_00000006"
"${MPIRUN[@]}" -np 2 "$STRATA" train --resume "$tmp/shard-resumed" > "$tmp/shard-resumed.log" 2>&1 || fail "the sharded resume did not finish"
cmp -s "$tmp/shard-resumed/checkpoints/step_00000006/optimizer.safetensors" "$tmp/shard-fp32/checkpoints/step_00000006/optimizer.safetensors" &&
  cmp -s "$tmp/shard-resumed/checkpoints/step_00000006/weights.safetensors" "$tmp/shard-fp32/checkpoints/step_00000006/weights.safetensors" &&
  ok "a sharded 2-rank resume is bit-exact" || fail "the sharded resume differs"

# 2. Exact resume: the step-3 checkpoint of the 2-rank run, resumed by 2 ranks, ends with the same step-6
#    checkpoint (weights and optimizer state) and the same losses.
cp -r "$tmp/two-fp32" "$tmp/resumed" && rm -rf "$tmp/resumed/checkpoints/step_00000006"
"${MPIRUN[@]}" -np 2 "$STRATA" train --resume "$tmp/resumed" > "$tmp/resumed.log" 2>&1 || fail "the 2-rank resume did not finish"
if cmp -s "$tmp/resumed/checkpoints/step_00000006/weights.safetensors" "$tmp/two-fp32/checkpoints/step_00000006/weights.safetensors" &&
   cmp -s "$tmp/resumed/checkpoints/step_00000006/optimizer.safetensors" "$tmp/two-fp32/checkpoints/step_00000006/optimizer.safetensors" &&
   [ "$(losses "$tmp/resumed")" = "$(losses "$tmp/two-fp32")" ]; then
  ok "2-rank resume from step 3 is bit-exact (weights, optimizer state, losses)"
else
  fail "2-rank resume differs from the uninterrupted run"
fi

out=$(timeout 60 "$STRATA" train --resume "$tmp/resumed" --set train.steps=9 2>&1)
grep -q "was saved by a run of 2 ranks, this one has 1: resume with \`mpirun -np 2 strata train --resume\`" <<<"$out" &&
  ok "a 2-rank run resumed by one process is refused" || fail "resume with another rank count: $out"

# 3. The CUDA sources on the CPU emulation of the device as 2 ranks (MPI sums over emulated device memory).
"${MPIRUN[@]}" -np 2 "$STRATA" train "$root/configs/tiny.toml" "${base[@]}" --set memory.backend=cuda-emu \
  --set output.dir="$tmp/two-emu" > "$tmp/two-emu.log" 2>&1 || fail "2 ranks on cuda-emu did not finish"
close "$tmp/two-emu" "$tmp/two-fp32" 1e-4 && ok "cuda-emu 2 ranks track cpu 2 ranks within 1e-4" ||
  fail "cuda-emu 2 ranks differ from cpu: $(losses "$tmp/two-emu" | tr '\n' ' ')"

# 4. Ranks started with different configs are refused before anything is written.
out=$("${MPIRUN[@]}" -np 1 "$STRATA" train "$root/configs/tiny.toml" --set output.dir="$tmp/mixed" --set train.lr=1e-3 : \
      -np 1 "$STRATA" train "$root/configs/tiny.toml" --set output.dir="$tmp/mixed" --set train.lr=2e-3 2>&1)
if grep -q "rank 1 was started with a different config than rank 0" <<<"$out" && [ ! -e "$tmp/mixed" ]; then
  ok "different configs on the ranks are refused, nothing written"
else
  fail "mixed configs: $(head -3 <<<"$out")"
fi

out=$("$STRATA" plan "$root/configs/tiny.toml" --set distributed.shard_optimizer=true --set lisa.optimizer_state=keep 2>&1)
grep -q 'distributed.shard_optimizer needs lisa.optimizer_state = "reset"' <<<"$out" && ok "shard_optimizer with keep is refused" ||
  fail "shard_optimizer with keep: $out"

# A rank's own disk tier file (memory.disk_path + ".rank1") is never a file Strata did not create.
echo "keep me" > "$tmp/user.bin.rank1"
out=$("${MPIRUN[@]}" -np 2 "$STRATA" train "$root/configs/tiny.toml" "${base[@]}" --set memory.frozen_tier=disk \
      --set memory.disk_path="$tmp/user.bin" --set output.dir="$tmp/userfile" 2>&1)
if grep -q "memory.disk_path: $tmp/user.bin.rank1 already exists" <<<"$out" && [ "$(cat "$tmp/user.bin.rank1")" = "keep me" ]; then
  ok "rank 1 refuses an existing memory.disk_path.rank1 and leaves it as it was"
else
  fail "an existing rank tier file: $(grep -m2 'error' <<<"$out")"
fi

# 5. A rank that hangs (SIGSTOP) or dies (SIGKILL) ends the job with an error naming rank 1, in bounded time.
rank_pid() {  # rank_pid RUN_DIR RANK: the pid of that rank of the run writing into RUN_DIR
  for p in $(pgrep -f "output.dir=$1"); do
    r=$(tr '\0' '\n' < /proc/$p/environ 2>/dev/null | grep '^OMPI_COMM_WORLD_RANK=' | cut -d= -f2)
    [ "$r" = "$2" ] && echo "$p" && return
  done
}
for how in STOP KILL; do
  dir=$tmp/fault-$how
  "${MPIRUN[@]}" -np 2 "$STRATA" train "$root/configs/tiny.toml" --set train.steps=1000000 --set train.warmup_steps=1 \
    --set distributed.timeout_s=4 --set output.dir="$dir" > "$dir.log" 2>&1 &
  launcher=$!
  for _ in $(seq 1 300); do grep -q "^step 1/" "$dir.log" 2>/dev/null && break; sleep 0.1; done
  pid=$(rank_pid "$dir" 1)
  start=$(date +%s)
  [ -n "$pid" ] && kill -$how "$pid"
  wait $launcher; rc=$?
  secs=$(( $(date +%s) - start ))
  if [ "$how" = STOP ]; then want="waited 4 s in .* and rank 1 did not respond"; else want="process rank 1 .* exited on signal 9"; fi
  if [ -n "$pid" ] && [ "$rc" != 0 ] && [ "$secs" -le 30 ] && grep -qE "$want" "$dir.log"; then
    ok "a rank that gets SIG$how ends the job in ${secs} s, naming rank 1"
  else
    fail "SIG$how to rank 1 (pid '${pid}'): rc $rc after ${secs} s:"; grep -v "^\[" "$dir.log" | tail -4
  fi
done

echo "$fails failure(s)"
[ "$fails" = 0 ]
