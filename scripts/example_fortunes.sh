#!/usr/bin/env bash
# End-to-end example on real public-domain text (Debian's fortune cookies): train a small SentencePiece model with
# spm_train, make a model whose vocab matches it, tokenize the corpus with `strata tokenize`, and fine-tune with LISA.
# Everything goes to runs/fortunes/ (or $1). Needs apt (fortunes, sentencepiece) and a built strata (scripts/build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/fortunes}
STRATA=./build/strata
[ -x "$STRATA" ] || bash scripts/build.sh > /dev/null
missing=()
for p in fortunes sentencepiece; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
mkdir -p "$OUT"

# 1. The corpus: every fortune file (plain text; the .dat files are indexes), one JSONL record per fortune.
python3 - "$OUT/fortunes.jsonl" <<'PY'
import glob, json, os, sys
out = open(sys.argv[1], "w")
n = 0
for path in sorted(glob.glob("/usr/share/games/fortunes/*")):
    if path.endswith((".dat", ".u8")) or os.path.isdir(path) or os.path.islink(path):
        continue
    text = open(path, encoding="utf-8", errors="replace").read()
    for cookie in text.split("\n%\n"):
        cookie = cookie.strip()
        if cookie:
            out.write(json.dumps({"text": cookie}) + "\n")
            n += 1
print(f"corpus: {n} fortunes")
PY

# 2. A 2000-piece SentencePiece BPE model trained on it.
python3 -c "import json,sys; [print(json.loads(l)['text']) for l in open(sys.argv[1])]" "$OUT/fortunes.jsonl" > "$OUT/corpus.txt"
spm_train --input="$OUT/corpus.txt" --model_prefix="$OUT/tokenizer" --vocab_size=2000 --model_type=bpe \
  --character_coverage=1.0 --byte_fallback=true --bos_id=1 --eos_id=2 --unk_id=0 --pad_id=-1 --minloglevel=2
mkdir -p "$OUT/tokenizer-dir" && cp "$OUT/tokenizer.model" "$OUT/tokenizer-dir/tokenizer.model"

# 3. A small LLaMA whose vocab matches the tokenizer (the tiny preset's shape with vocab 2000).
cat > "$OUT/config.json" <<JSON
{"model_type": "llama", "hidden_size": 128, "intermediate_size": 344, "num_hidden_layers": 4,
 "num_attention_heads": 8, "num_key_value_heads": 4, "vocab_size": 2000, "max_position_embeddings": 512,
 "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "tie_word_embeddings": false, "bos_token_id": 1, "eos_token_id": 2}
JSON
$STRATA init-model --config "$OUT/config.json" --seed 1 --out "$OUT/model" --force
cp "$OUT/tokenizer.model" "$OUT/model/tokenizer.model"

# 4. Pre-tokenize once, then train LISA on the token file.
$STRATA tokenize --tokenizer "$OUT/model" --format jsonl "$OUT/fortunes.jsonl" --out "$OUT/fortunes.tok"
rm -rf "$OUT/run"
$STRATA train configs/tiny.toml --set model.preset= --set model.path="$OUT/model" \
  --set data.train="$OUT/fortunes.tok" --set data.format=tokens --set data.tokenizer=model \
  --set data.seq_len=128 --set train.steps=200 --set train.lr=2e-3 --set output.log_every=25 \
  --set output.dir="$OUT/run"
$STRATA eval "$OUT/run" --data "$OUT/fortunes.jsonl" --format jsonl --tokenizer model --seq-len 128 --batches 20
