#!/usr/bin/env bash
# Crash consistency: `strata train` is killed with SIGKILL at seeded random moments (in steps, in checkpoint writes,
# at start-up) and resumed each time until it finishes; its last checkpoint and its per-step losses must equal an
# uninterrupted run's bit for bit, and metrics.jsonl must hold every step once. Usage: test_crash_resume.sh STRATA
set -u
STRATA=$1
tmp=$(mktemp -d)
trap "rm -rf $tmp" EXIT; [ -n "${KEEP:-}" ] && trap - EXIT
RANDOM=20261204  # the kill moments are the same on every run of the test
sets=(--set train.steps=10 --set train.warmup_steps=2 --set data.synthetic_documents=300 --set data.seq_len=64 --set train.micro_batch=4
      --set train.eval_every=0 --set output.checkpoint_every=1 --set output.keep_checkpoints=2 --set output.log_every=1)
cfg=configs/tiny.toml
[ -f "$cfg" ] || cfg="$(dirname "$0")/../../configs/tiny.toml"

t0=$(date +%s%N)
"$STRATA" train "$cfg" "${sets[@]}" --set "output.dir=$tmp/straight" > "$tmp/straight.log" 2>&1 ||
  { echo "FAIL: the uninterrupted run failed"; cat "$tmp/straight.log"; exit 1; }
run_ms=$((($(date +%s%N) - t0) / 1000000))  # kill moments scale with it, so a loaded machine still gets them

run="$tmp/killed"
kills=0
kills_wanted=6
for attempt in $(seq 1 $((kills_wanted + 10))); do
  if [ -f "$run/config.toml" ]; then
    "$STRATA" train --resume "$run" > "$tmp/attempt$attempt.log" 2>&1 &
  else  # killed before the config was written: the folder holds at most the lock file, a fresh start takes it
    "$STRATA" train "$cfg" "${sets[@]}" --set "output.dir=$run" > "$tmp/attempt$attempt.log" 2>&1 &
  fi
  pid=$!
  if [ $kills -lt $kills_wanted ]; then
    # A moment within the first half of an uninterrupted run: in a step, a checkpoint write or the start-up.
    ms=$((RANDOM % 500 * run_ms / 1000))
    sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
    if kill -9 "$pid" 2>/dev/null; then
      wait "$pid" 2>/dev/null
      kills=$((kills + 1))
      continue
    fi
  fi
  wait "$pid"
  rc=$?
  if [ $rc -ne 0 ]; then echo "FAIL: attempt $attempt exited $rc:"; tail -5 "$tmp/attempt$attempt.log"; exit 1; fi
  grep -q "done at step 10/10" "$tmp/attempt$attempt.log" && break
done
grep -q "done at step 10/10" "$tmp/attempt$attempt.log" || { echo "FAIL: not finished after $attempt attempts"; exit 1; }
echo "finished after $kills kills in $attempt attempts"
[ "$kills" -ge 3 ] || { echo "FAIL: only $kills kills: the moments no longer interrupt the run"; exit 1; }

fails=0
last=$(ls "$tmp/straight/checkpoints" | sort | tail -1)
for f in $(cd "$tmp/straight/checkpoints/$last" && ls); do
  cmp -s "$tmp/straight/checkpoints/$last/$f" "$run/checkpoints/$last/$f" ||
    { echo "FAIL: $last/$f differs from the uninterrupted run's"; fails=$((fails + 1)); }
done
losses() { sed -nE 's/.*"loss":([^,]*),.*"step":([0-9]+).*/\2 \1/p' "$1/metrics.jsonl"; }  # "step loss" per line
if ! diff <(losses "$tmp/straight") <(losses "$run") > "$tmp/diff"; then
  echo "FAIL: per-step losses differ (straight < > killed):"; head -5 "$tmp/diff"; fails=$((fails + 1))
fi
[ "$(losses "$run" | wc -l)" -eq 10 ] || { echo "FAIL: metrics.jsonl does not hold each of the 10 steps once"; fails=$((fails + 1)); }
leftovers=$(ls -a "$run/checkpoints" | grep -c "tmp")
[ "$leftovers" -eq 0 ] || { echo "FAIL: $leftovers half-written checkpoint folders left behind"; fails=$((fails + 1)); }
[ $fails -eq 0 ] && echo "ok: bit-exact after $kills kills"
exit $fails
