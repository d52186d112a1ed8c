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

echo "$fails failure(s)"
[ "$fails" = 0 ]
