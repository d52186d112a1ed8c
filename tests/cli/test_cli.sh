#!/usr/bin/env bash
# End-to-end checks of the strata executable: exit codes (0 ok, 1 error, 2 bad arguments), one-line errors, and
# the init-model -> export -> demo path. Usage: test_cli.sh path/to/strata
set -u
STRATA=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

expect() {  # expect RC NEEDLE -- command...
  local want=$1 needle=$2; shift 3
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" != "$want" ] || ! grep -qF -- "$needle" <<<"$out"; then
    echo "FAIL: $* -> rc $rc (want $want), output lacks '$needle':"; echo "$out" | head -5; fails=$((fails + 1))
  else
    echo "ok: $*"
  fi
}

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
expect 1 "does not exist" -- "$STRATA" export "$tmp/nope" --out "$tmp/f"
head -c 100 "$tmp/m/model.safetensors" > "$tmp/m/model.safetensors.cut" && mv "$tmp/m/model.safetensors.cut" "$tmp/m/model.safetensors"
expect 1 "model.safetensors" -- "$STRATA" export "$tmp/m" --out "$tmp/g"
lines=$("$STRATA" export "$tmp/m" --out "$tmp/g" 2>&1 | wc -l)
[ "$lines" = 1 ] || { echo "FAIL: an error must be one line, got $lines"; fails=$((fails + 1)); }
[ ! -e "$tmp/g" ] || { echo "FAIL: a failed export left $tmp/g behind"; fails=$((fails + 1)); }
expect 1 "exceeds the model's max_position_embeddings" -- "$STRATA" demo --seq-len 100000

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
losses() { grep -o '"loss":[^,}]*' "$1/metrics.jsonl" 2>/dev/null | cut -d: -f2; }
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
