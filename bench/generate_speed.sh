#!/usr/bin/env bash
# Generation speed on the CPU backend: prompt (prefill) and generation tokens/s of `strata generate` for seeded
# `tiny` and `small` models, one prompt and a batch of 8, fp32 and bf16. Usage: bench/generate_speed.sh [build/strata]
# [PROMPT_TOKENS] [NEW_TOKENS]. Models and prompts go to a temporary folder, removed at the end.
set -eu
STRATA=${1:-build/strata}
P=${2:-128}
N=${3:-128}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
text=$(head -c "$((P - 1))" < <(yes "the cat sat on the mat " | tr -d '\n'))  # byte tokenizer: BOS + P-1 bytes
for i in 1 2 3 4 5 6 7 8; do printf '{"prompt": "%s"}\n' "$text"; done > "$tmp/batch8.jsonl"
printf '%-6s %-5s %-7s %14s %14s\n' preset prec prompts "prompt tok/s" "new tok/s"
for preset in tiny small; do
  "$STRATA" init-model --config "$preset" --seed 1 --out "$tmp/$preset" > /dev/null
  for prec in fp32 bf16; do
    for prompts in 1 8; do
      if [ "$prompts" = 1 ]; then src=(--prompt "$text"); else src=(--prompts "$tmp/batch8.jsonl" --batch 8); fi
      line=$("$STRATA" generate "$tmp/$preset" "${src[@]}" --tokenizer byte --precision "$prec" \
               --max-new-tokens "$N" --ignore-eos --json 2>&1 >/dev/null | tail -1)
      pre=$(sed -E 's/.*prompt: [0-9]+ tokens, ([0-9.]+) tokens\/s.*/\1/' <<<"$line")
      gen=$(sed -E 's/.*generated: [0-9]+ tokens, ([0-9.]+) tokens\/s.*/\1/' <<<"$line")
      printf '%-6s %-5s %-7s %14s %14s\n' "$preset" "$prec" "$prompts" "$pre" "$gen"
    done
  done
done
echo "($P prompt tokens and $N new tokens per prompt; $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))"
