#!/usr/bin/env bash
# End-to-end checks of the strata executable: exit codes (0 ok, 1 error, 2 bad arguments), one-line errors, and
# the init-model -> export -> demo path. Usage: test_cli.sh path/to/strata
set -u
STRATA=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/lib.sh"  # fails, ok, fail, expect, losses

expect 0 "strata 0.1.0" -- "$STRATA" --version
expect 0 "llama2-70b" -- "$STRATA" presets
expect 2 "not expected" -- "$STRATA" frobnicate
expect 2 "--out is required" -- "$STRATA" init-model --config tiny
expect 1 "strata: error:" -- "$STRATA" init-model --config llama9 --out "$tmp/x"
expect 1 "not one of f32, bf16, f16" -- "$STRATA" init-model --config tiny --out "$tmp/x" --dtype f8
expect 1 "--max-shard-size" -- "$STRATA" init-model --config tiny --out "$tmp/x" --max-shard-size 5XB
expect 0 "wrote" -- "$STRATA" init-model --config tiny-tied --seed 3 --out "$tmp/m"
expect 1 "already exists" -- "$STRATA" init-model --config tiny-tied --seed 3 --out "$tmp/m"
expect 0 "wrote" -- "$STRATA" export "$tmp/m" --out "$tmp/e" --dtype bf16 --max-shard-size 256KiB
[ -f "$tmp/e/model.safetensors.index.json" ] || { echo "FAIL: export did not shard"; fails=$((fails + 1)); }
expect 0 "loss" -- "$STRATA" demo --model "$tmp/e" --steps 1 --seq-len 16 --batch 1
# export --force over a folder: leftovers of a killed earlier run (made by hand here; process 999999999 and its
# neighbours cannot run: they are above the kernel's pid_max) are removed when they hold only files Strata writes,
# reported in one line and kept otherwise, and a folder a killed run had moved aside is put back.
cp -r "$tmp/e" "$tmp/e.tmp-999999999"
mkdir "$tmp/e.old-999999998" && echo "keep me" > "$tmp/e.old-999999998/notes.txt"
out=$("$STRATA" export "$tmp/m" --out "$tmp/e" --force --dtype bf16 --max-shard-size 256KiB 2>&1); rc=$?
if [ "$rc" = 0 ] && grep -qF "strata: warning: removed $tmp/e.tmp-999999999, left by an interrupted earlier write of $tmp/e (process 999999999, no longer running)" <<<"$out" &&
   grep -qF "strata: warning: found $tmp/e.old-999999998, left by an interrupted earlier write of $tmp/e (process 999999998, no longer running), and kept it because it holds files Strata does not write: check what is inside" <<<"$out" &&
   [ "$(grep -c "e.old-999999998" <<<"$out")" = 1 ] && [ ! -e "$tmp/e.tmp-999999999" ] && [ -f "$tmp/e.old-999999998/notes.txt" ] &&
   [ -f "$tmp/e/model.safetensors.index.json" ]; then
  echo "ok: export --force removes its own leftovers and reports the others once"
else
  echo "FAIL: export --force with leftovers: rc $rc"; echo "$out"; ls "$tmp"; fails=$((fails + 1))
fi
rm -r "$tmp/e.old-999999998"
mv "$tmp/e" "$tmp/e.old-999999997"  # killed between the two renames of the fallback: only the moved-aside copy
expect 1 "strata: warning: restored $tmp/e from $tmp/e.old-999999997" -- "$STRATA" init-model --config tiny-tied --out "$tmp/e"
[ -f "$tmp/e/model.safetensors.index.json" ] && [ ! -e "$tmp/e.old-999999997" ] || { echo "FAIL: $tmp/e not restored"; fails=$((fails + 1)); }
# --force never replaces the current folder, one above it, or a folder that is not a model folder.
mkdir -p "$tmp/notmodel/sub" && echo x > "$tmp/notmodel/sub/f"
expect 1 "--force replaces only a model folder (one with config.json) or an empty folder" -- "$STRATA" init-model --config tiny --out "$tmp/notmodel" --force
expect 1 "it is the current folder or one above it" -- bash -c "cd '$tmp/notmodel/sub' && '$(realpath "$STRATA")' init-model --config tiny --out .. --force"
[ -f "$tmp/notmodel/sub/f" ] || { echo "FAIL: --force deleted a folder that is not a model folder"; fails=$((fails + 1)); }
expect 0 "wrote $tmp/slash/" -- "$STRATA" init-model --config tiny --out "$tmp/slash/"
expect 1 "does not exist" -- "$STRATA" export "$tmp/nope" --out "$tmp/f"
head -c 100 "$tmp/m/model.safetensors" > "$tmp/m/model.safetensors.cut" && mv "$tmp/m/model.safetensors.cut" "$tmp/m/model.safetensors"
expect 1 "model.safetensors" -- "$STRATA" export "$tmp/m" --out "$tmp/g"
lines=$("$STRATA" export "$tmp/m" --out "$tmp/g" 2>&1 | wc -l)
[ "$lines" = 1 ] || { echo "FAIL: an error must be one line, got $lines"; fails=$((fails + 1)); }
[ ! -e "$tmp/g" ] || { echo "FAIL: a failed export left $tmp/g behind"; fails=$((fails + 1)); }
expect 1 "exceeds the model's max_position_embeddings" -- "$STRATA" demo --seq-len 100000

# Numbers are parsed strictly (the whole value, in range, no wrap-around, no nan/inf) and no value may be empty:
# bad arguments, exit 2, naming the flag, the value and what is valid.
expect 2 "--seed: '-1' is not a whole number from 0 to 18446744073709551615" -- "$STRATA" init-model --config tiny --seed -1 --out "$tmp/x"
expect 2 "--seed: '99999999999999999999' is not a whole number from 0 to 18446744073709551615" -- "$STRATA" init-model --config tiny --seed 99999999999999999999 --out "$tmp/x"
expect 2 "--seed: '-1' is not a whole number" -- "$STRATA" demo --seed -1
expect 2 "--batch: '0x10' is not a whole number from 1 to 4096" -- "$STRATA" demo --batch 0x10
expect 2 "--steps: '1e3' is not a whole number from 1 to 1000000" -- "$STRATA" demo --steps 1e3
expect 2 "--threads: '-1' is not a whole number from 0 to 1024 (0: one per hardware thread)" -- "$STRATA" tokenize --tokenizer byte --threads -1 "$tmp/x.txt" --out "$tmp/x.tok"
expect 2 "--batches: '-1' is not a whole number from 0 to 1000000 (0: all of the dataset)" -- "$STRATA" eval "$tmp/m" --data synthetic --batches -1
expect 2 "--micro-batch: ' 4' is not a whole number from 1 to 65536" -- "$STRATA" eval "$tmp/m" --data synthetic --micro-batch " 4"
expect 2 "--device-tflops: '-5' is not a finite number greater than 0" -- "$STRATA" plan "$(dirname "$0")/../../configs/tiny.toml" --device-tflops -5
expect 2 "--device-tflops: 'nan' is not a finite number greater than 0" -- "$STRATA" plan "$(dirname "$0")/../../configs/tiny.toml" --device-tflops nan
expect 2 "--h2d-gbps: 'inf' is not a finite number greater than 0" -- "$STRATA" plan "$(dirname "$0")/../../configs/tiny.toml" --h2d-gbps inf
expect 2 "--disk-gbps: '0' is not a finite number greater than 0" -- "$STRATA" plan "$(dirname "$0")/../../configs/tiny.toml" --disk-gbps 0
expect 2 "--out: the value is empty; give the folder to write" -- "$STRATA" init-model --config tiny --out ""
expect 2 "--out: the value is empty; give the folder to write" -- "$STRATA" export "$tmp/m" --out ""
expect 2 "--model: the value is empty" -- "$STRATA" demo --model ""
expect 1 "--max-shard-size: '0' is not a usable shard size" -- "$STRATA" init-model --config tiny --out "$tmp/x" --max-shard-size 0
expect 0 "seed 18446744073709551615" -- "$STRATA" init-model --config tiny --seed 18446744073709551615 --out "$tmp/seedmax"
# Errors about the user's input carry no "file.cpp:NNN:" source location (that is for internal errors).
no_location() {  # no_location -- command...
  shift
  local out
  out=$("$@" 2>&1)
  if grep -qE '[A-Za-z_]+\.(cpp|h|cu):[0-9]+:' <<<"$out"; then
    echo "FAIL: $* -> a source location in a user error:"; echo "$out" | head -3; fails=$((fails + 1))
  else
    echo "ok (no source location): $*"
  fi
}
no_location -- "$STRATA" init-model --config tiny-tied --seed 3 --out "$tmp/m"
no_location -- "$STRATA" init-model --config tiny --out "$tmp/x" --dtype f8
no_location -- "$STRATA" init-model --config tiny --out "$tmp/x" --max-shard-size 0
no_location -- "$STRATA" demo --seq-len 100000
no_location -- "$STRATA" train
no_location -- "$STRATA" report "$tmp/nothing"
no_location -- "$STRATA" train "$tmp/nothing.toml"
no_location -- "$STRATA" plan "$(dirname "$0")/../../configs/tiny.toml" --device-budget 1e19
no_location -- "$STRATA" plan "$(dirname "$0")/../../configs/tiny.toml" --host-optimizer --precision fp32
no_location -- "$STRATA" demo --backend tpu

# strata train / eval / export of a run
cat > "$tmp/run.toml" <<TOML
[model]
preset = "tiny"
[data]
train = "synthetic"
synthetic_documents = 100
seq_len = 32
[train]
steps = 6
micro_batch = 2
warmup_steps = 1
eval_every = 3
[lisa]
layers = 1
interval = 2
[output]
dir = "$tmp/run"
log_every = 1
TOML
expect 0 "done at step 6/6" -- "$STRATA" train "$tmp/run.toml"
[ -f "$tmp/run/config.toml" ] && [ -f "$tmp/run/metrics.jsonl" ] || { echo "FAIL: run folder incomplete"; fails=$((fails + 1)); }
expect 0 "done at step 8/8" -- "$STRATA" train --resume "$tmp/run" --set train.steps=8
expect 0 "perplexity" -- "$STRATA" eval "$tmp/run" --data synthetic --seq-len 32 --batches 2
expect 0 "wrote" -- "$STRATA" export "$tmp/run" --out "$tmp/run-hf"
expect 0 "loss" -- "$STRATA" demo --model "$tmp/run-hf" --steps 1 --seq-len 16 --batch 1
expect 1 "already holds a run" -- "$STRATA" train "$tmp/run.toml"
expect 1 "did you mean train.lr" -- "$STRATA" train "$tmp/run.toml" --set train.lrr=1
expect 1 "lisa.layers" -- "$STRATA" train "$tmp/run.toml" --set lisa.layers=9 --set output.dir="$tmp/run2"
expect 1 "data.train" -- "$STRATA" train "$tmp/run.toml" --set data.train="$tmp/missing.txt" --set output.dir="$tmp/run3"
expect 1 "no config.toml" -- "$STRATA" train --resume "$tmp/nothing"
# strata tokenize -> train on the token file (conversations through the chat template, with masks)
printf '{"type": "conversation", "instances": [%s]}' "$(for i in $(seq 1 60); do
  printf '%s{"system": "Be kind.", "messages": [{"role": "user", "content": "Tell story %d."}, {"role": "assistant", "content": "Once upon a time there was a cat number %d."}]}' "$([ "$i" = 1 ] || echo ,)" "$i" "$i"; done)" > "$tmp/chat.json"
printf '{"text": "plain %d"}\n' $(seq 1 40) > "$tmp/plain.jsonl"
expect 0 "100 documents" -- "$STRATA" tokenize --tokenizer byte --chat-template chatml --threads 3 "$tmp/chat.json" "$tmp/plain.jsonl" --out "$tmp/d.tok"
expect 0 "done at step 2/2" -- "$STRATA" train "$tmp/run.toml" --set data.train="$tmp/d.tok" --set data.format=tokens --set train.steps=2 --set output.dir="$tmp/tokrun"
expect 1 "plain.jsonl:1: record 0" -- "$STRATA" tokenize --tokenizer byte --text-field body "$tmp/plain.jsonl" --out "$tmp/e.tok"
expect 0 "40 malformed skipped" -- "$STRATA" tokenize --tokenizer byte --text-field body --skip-bad-records "$tmp/plain.jsonl" --out "$tmp/e.tok"
# An existing --out is never replaced without --force, and an input never at all (it used to be overwritten).
cp "$tmp/plain.jsonl" "$tmp/plain.bak"
expect 1 "already exists; pass --force" -- "$STRATA" tokenize --tokenizer byte --text-field body --skip-bad-records "$tmp/plain.jsonl" --out "$tmp/e.tok"
expect 1 "is also an input" -- "$STRATA" tokenize --tokenizer byte --force "$tmp/plain.jsonl" --out "$tmp/plain.jsonl"
cmp -s "$tmp/plain.jsonl" "$tmp/plain.bak" && echo "ok: the input survived" || { echo "FAIL: tokenize replaced its input"; fails=$((fails + 1)); }
expect 0 "40 malformed skipped" -- "$STRATA" tokenize --tokenizer byte --text-field body --skip-bad-records --force "$tmp/plain.jsonl" --out "$tmp/e.tok"
expect 2 "--tokenizer is required" -- "$STRATA" tokenize "$tmp/plain.jsonl" --out "$tmp/e.tok"
# The demo config on the CUDA backend's sources run by the CPU emulation of the device (cuda-emu), shortened: it
# exits 0 and its per-step losses (metrics.jsonl) equal the cpu backend's within 1e-4 relative.
root=$(cd "$(dirname "$0")/../.." && pwd)
short=(--set train.steps=3 --set train.warmup_steps=1 --set train.micro_batch=2 --set data.seq_len=64 --set output.log_every=1)
expect 0 "done at step 3/3" -- "$STRATA" train "$root/configs/tiny.toml" "${short[@]}" --set memory.backend=cuda-emu --set output.dir="$tmp/emu"
expect 0 "done at step 3/3" -- "$STRATA" train "$root/configs/tiny.toml" "${short[@]}" --set memory.backend=cpu --set output.dir="$tmp/emu-cpu"
if paste <(losses "$tmp/emu") <(losses "$tmp/emu-cpu") | awk -v want=3 '
     NF != 2 { bad = 1 } { n++; d = $1 - $2; if (d < 0) d = -d; r = $2 < 0 ? -$2 : $2; if (!(d <= 1e-4 * r)) bad = 1 }
     END { exit (bad || n != want) }'; then
  echo "ok: cuda-emu losses match cpu within 1e-4: $(losses "$tmp/emu" | tr '\n' ' ')"
else
  echo "FAIL: cuda-emu losses differ from cpu by more than 1e-4 relative:"
  paste <(losses "$tmp/emu") <(losses "$tmp/emu-cpu")
  fails=$((fails + 1))
fi
# SIGINT: finish the step, save, exit 0
"$STRATA" train "$tmp/run.toml" --set train.steps=100000 --set output.dir="$tmp/sig" > "$tmp/sig.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do grep -q "^step 1/" "$tmp/sig.log" 2>/dev/null && break; sleep 0.1; done
kill -INT $pid
wait $pid; rc=$?
if [ "$rc" = 0 ] && grep -q "stopped at step" "$tmp/sig.log" && ls "$tmp/sig/checkpoints"/step_* >/dev/null 2>&1; then
  echo "ok: SIGINT saves and exits 0"
else
  echo "FAIL: SIGINT: rc $rc"; tail -3 "$tmp/sig.log"; fails=$((fails + 1))
fi

echo "$fails failure(s)"
[ "$fails" = 0 ]
