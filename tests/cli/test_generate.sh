#!/usr/bin/env bash
# End-to-end checks of `strata generate`: text and token-id prompts, JSON output, batched prompts from a file equal to
# the same prompts one at a time, streamed blocks, and one clear error line (exit 1) for each kind of bad input.
# Usage: test_generate.sh path/to/strata
set -u
STRATA=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export TMPDIR=$tmp  # temporary disk tiers go here, so a leftover is ours alone
source "$(dirname "$0")/lib.sh"  # fails, ok, fail, expect, losses

same() {  # same WHAT A B
  if [ "$2" = "$3" ] && [ -n "$2" ]; then ok "$1"; else fail "$1: '$2' vs '$3'"; fi
}

"$STRATA" init-model --config tiny-tied --seed 3 --out "$tmp/m" >/dev/null || { echo "FAIL: init-model"; exit 1; }
m=$tmp/m
expect 0 '"generated_ids":[' -- "$STRATA" generate "$m" --prompt-ids 1,2,3 --max-new-tokens 5 --json --ignore-eos
expect 0 "generated: 7 tokens" -- "$STRATA" generate "$m" --prompt "Once" --tokenizer byte --max-new-tokens 7 --ignore-eos
expect 0 '"stop":"length"' -- "$STRATA" generate "$m" --prompt "hi" --tokenizer byte --chat-template chatml --system "Be brief." --max-new-tokens 4 --json --ignore-eos
# Bad input: one line each, naming what is wrong.
expect 1 "has no tokenizer" -- "$STRATA" generate "$m" --prompt "hello"
expect 1 "--prompt is empty" -- "$STRATA" generate "$m" --prompt "" --tokenizer byte
expect 1 "no room to generate in the model's context of 512 positions" -- "$STRATA" generate "$m" --prompt "$(head -c 600 /dev/zero | tr '\0' 'a')" --tokenizer byte
expect 1 "'vicuna' is not one of llama2 or chatml" -- "$STRATA" generate "$m" --prompt "x" --tokenizer byte --chat-template vicuna
expect 1 "--top-p" -- "$STRATA" generate "$m" --prompt "x" --tokenizer byte --top-p 1.5 --temperature 1
expect 1 "'x' is not a token id" -- "$STRATA" generate "$m" --prompt-ids 1,2,x
expect 1 "token id 9999 is outside the model's vocabulary [0, 512)" -- "$STRATA" generate "$m" --prompt-ids 1,9999
expect 1 "exactly one of --prompt" -- "$STRATA" generate "$m" --prompt "a" --prompt-ids 1 --tokenizer byte
expect 1 "exists; give a new file" -- "$STRATA" generate "$m" --prompt-ids 1 --blocks disk --disk-path "$m/config.json"
expect 2 "is not a finite number >= 0" -- "$STRATA" generate "$m" --prompt-ids 1 --temperature nan
printf '{"prompt": "Once upon"}\n\n{"prompt": "The cat"}\n{"prompt": "A"}\n' > "$tmp/p.jsonl"
printf '{"prompt": "ok"}\n{"text": "no prompt key"}\n' > "$tmp/bad.jsonl"
expect 1 "bad.jsonl:2: expected an object with a \"prompt\" string" -- "$STRATA" generate "$m" --prompts "$tmp/bad.jsonl" --tokenizer byte
# A batch of prompts of different lengths gives each prompt's ids alone; streamed blocks give the same ids.
ids() { grep -o '"generated_ids":\[[^]]*\]' | tr '\n' ' '; }
batched=$("$STRATA" generate "$m" --prompts "$tmp/p.jsonl" --tokenizer byte --max-new-tokens 12 --ignore-eos --json 2>/dev/null | ids)
alone=$(for p in "Once upon" "The cat" "A"; do "$STRATA" generate "$m" --prompt "$p" --tokenizer byte --max-new-tokens 12 --ignore-eos --json 2>/dev/null; done | ids)
same "batched prompts equal the prompts alone" "$batched" "$alone"
disk=$("$STRATA" generate "$m" --prompts "$tmp/p.jsonl" --tokenizer byte --max-new-tokens 12 --ignore-eos --json --blocks disk --prefetch 1 2>/dev/null | ids)
same "blocks streamed from disk give the same ids" "$disk" "$batched"
ls "$tmp"/strata-generate-* >/dev/null 2>&1 && { echo "FAIL: a temporary disk tier file was left behind"; fails=$((fails + 1)); }

echo "$fails failure(s)"
[ "$fails" = 0 ]
