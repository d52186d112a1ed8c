#!/usr/bin/env python3
"""Goldens for tests/test_sentencepiece.cpp: python sentencepiece's ids and decodes of ~3000 seeded, varied strings
under the real LLaMA-2 tokenizer.model (../shared/data/llama2-tokenizer), so the C++ test needs no Python.

Run from anywhere:   python tools/make_sentencepiece_goldens.py   (a venv with sentencepiece, torch; see README)
                     [--model ../shared/data/llama2-tokenizer/tokenizer.model] [--out tests/golden]
The corpus is deterministic (one seeded random.Random, no hashing of sets or dicts), so the same sentencepiece
version writes the same file byte for byte.

Writes tests/golden/sp_llama2_ids.bin in the golden format of tools/make_llama_goldens.py. Tensors (all int32):
    text_bytes      [total bytes]    the UTF-8 bytes of every string, concatenated (one byte per int32)
    text_offsets    [N+1]            string i is text_bytes[text_offsets[i] : text_offsets[i+1]]
    ids             [total ids]      sp.encode(string) (no BOS/EOS), concatenated
    id_offsets      [N+1]
    decode_diff     [D]              indices i whose sp.decode(ids of i) is not string i itself
    decode_bytes    [..]             those decodes' UTF-8 bytes, concatenated; decode_offsets [D+1]
Metadata: format, model_file, model_bytes, model_sha256, sentencepiece_version, seed, n_strings, n_ids, vocab,
bos_id, eos_id, unk_id, and one categories entry ("name:count,...", in corpus order).

Also writes tests/golden/sp_no_bos_eos.model (491 bytes): a tiny BPE model trained here without BOS and EOS, which
the tokenizer must refuse.
"""
import io
import argparse
import hashlib
import os
import random
import sys

import sentencepiece
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_llama_goldens import write_golden  # noqa: E402  (same golden format)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEED = 20240611

WORDS = ("the of and to in is was for on that with as by at from it be this are an have not which or had but his "
         "they you one were her all she there would their we him been has when who will more no if out so said "
         "what up its about into than them can only other new some could time these two may then do first any "
         "my now such like our over man me even most made after also did many before must through back years "
         "where much your way well down should because each just those people Mr how too little state good very "
         "make world still own see men work long get here between both life being under never day same another "
         "know while last might us great old year off come since against go came right used take three tokenizer "
         "LISA fine-tuning gradient GPU NVMe AdamW transformer LLaMA embedding don't won't it's I'm you're "
         "naïve café résumé coöperate façade Zürich São Paulo").split()
ENDINGS = [".", "!", "?", "...", ";", ":", ",", "", " :)", "?!", "\u2026", "\u3002"]
SPECIALS = ["<s>", "</s>", "<unk>", "[INST]", "[/INST]", "<<SYS>>", "<</SYS>>", "<pad>", "<0x41>", "<0x0A>",
            "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|begin_of_text|>", "<mask>", "<s", "s>", "</", "\u2581"]
# (first, last) code point ranges of scripts, all assigned letters or marks in Unicode 15.
SCRIPTS = {
    "latin_accented": [(0x00C0, 0x00FF), (0x0100, 0x017F), (0x0180, 0x024F), (0x1E00, 0x1EFF)],
    "greek": [(0x0386, 0x03CE), (0x1F00, 0x1F15)],
    "cyrillic": [(0x0410, 0x044F), (0x0400, 0x040F), (0x0450, 0x045F)],
    "cjk": [(0x4E00, 0x9FFF), (0x3041, 0x3096), (0x30A1, 0x30FA), (0x3000, 0x3003)],
    "hangul": [(0xAC00, 0xD7A3)],
    "arabic": [(0x0621, 0x064A), (0x064B, 0x0652), (0x0660, 0x0669)],
    "hebrew": [(0x05D0, 0x05EA), (0x05B0, 0x05BD)],
    "devanagari": [(0x0905, 0x0939), (0x093E, 0x094D), (0x0966, 0x096F)],
    "thai": [(0x0E01, 0x0E3A), (0x0E40, 0x0E4E)],
}
EMOJI_RANGES = [(0x1F300, 0x1F5FF), (0x1F600, 0x1F64F), (0x1F680, 0x1F6FF), (0x1F900, 0x1F9FF), (0x2600, 0x26FF),
                (0x1FA70, 0x1FAFF)]
ZWJ, VS16 = "\u200d", "\ufe0f"
SKIN = [chr(c) for c in range(0x1F3FB, 0x1F400)]
# Code point ranges of various planes (surrogates D800-DFFF excluded: they are not valid UTF-8).
PLANES = [(0x0000, 0xD7FF), (0xE000, 0xFFFF), (0x10000, 0x1FFFF), (0x20000, 0x2FFFF), (0x30000, 0x3134F),
          (0xE0000, 0xE01EF), (0xF0000, 0xFFFFF), (0x100000, 0x10FFFF)]
SPACES = [" ", " ", " ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", " \t ", "\u00a0", "\u3000", "\u2009", "\u200b",
          "\u2028", "\x0b", "\x0c", "        "]

FIXED = [
    "", " ", "  ", "   ", "\t", "\n", "\r\n", "\n\n\n", " \t\n ", "a", "A", " a", "a ", " a ", "Hello world",
    "Hello, world!", " Hello", "Hello ", "  Hello  world  ", "hello\tworld", "hello\nworld", "line1\r\nline2\r\n",
    "<s>", "</s>", "<unk>", "<s></s>", " <s> ", "<s>Hello</s>", "[INST] What is 2+2? [/INST]",
    "<s>[INST] <<SYS>>\nYou are a helpful assistant.\n<</SYS>>\n\nHi there! [/INST] Hello!</s>",
    "<0x41>", "<0xFF>", "\u2581", "\u2581\u2581x", "a\u2581b", " \u2581 ", "\x00", "a\x00b", "\x00\x00\x00",
    "\x7f", "\x1b[31mred\x1b[0m", "0", "00", "007", "3.14159", "-2.5e-10", "1,000,000", "0x1F", "1/2", "50%",
    "2024-06-11T12:34:56Z", "+1 (555) 123-4567", "12345678901234567890", "\u00bd\u00b2\u2153", "\u0661\u0662\u0663",
    "caf\u00e9", "cafe\u0301", "\u00c5ngstr\u00f6m", "\u212b", "\ufb01", "\uff21\uff22\uff23", "\u2460\u2461",
    "\u03a9\u2126", "\u1e9b\u0323", "\ufeffBOM", "\u200bzero\u200bwidth", "\u00a0nbsp\u00a0", "\u3000ideo\u3000",
    "\ufffd", "\uffff", "\ufffe", "\U0010ffff", "\U000e0041", "\U0001f600", "\U0001f468\u200d\U0001f469\u200d"
    "\U0001f467\u200d\U0001f466", "\U0001f1fa\U0001f1f8\U0001f1ef\U0001f1f5", "\U0001f44d\U0001f3fd", "1\ufe0f\u20e3",
    "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f", "\u2764\ufe0f", "\U0001f3f3\ufe0f\u200d"
    "\U0001f308", "\u4f60\u597d\uff0c\u4e16\u754c", "\u3053\u3093\u306b\u3061\u306f", "\uc548\ub155\ud558\uc138\uc694",
    "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440", "\u0393\u03b5\u03b9\u03ac \u03c3\u03bf\u03c5",
    "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645", "\u05e9\u05dc\u05d5\u05dd",
    "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e", "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35",
    "def f(x):\n    return x ** 2\n", "for (int i = 0; i < n; ++i) { sum += a[i]; }", "{\"key\": [1, 2, 3]}",
    "https://example.com/path?q=1&r=2#frag", "user@example.org", "#hashtag @mention $100 ~tilde `code`",
    "!!!???...", "---", "___", "***", "''\"\"``", "\\n\\t", "((()))[[]]{{}}",
]


def rand_cp(rng, ranges):
    lo, hi = rng.choice(ranges)
    return chr(rng.randint(lo, hi))


def sentence(rng):
    n = rng.randint(1, 14)
    words = [rng.choice(WORDS) for _ in range(n)]
    if rng.random() < 0.7:
        words[0] = words[0].capitalize()
    if rng.random() < 0.2:
        words[rng.randrange(n)] = rng.choice(WORDS).upper()
    return " ".join(words) + rng.choice(ENDINGS)


def ws_mix(rng):
    parts = [rng.choice(SPACES) if rng.random() < 0.4 else ""]
    for _ in range(rng.randint(1, 6)):
        parts.append(rng.choice(WORDS) if rng.random() < 0.8 else sentence(rng))
        parts.append(rng.choice(SPACES) * rng.randint(1, 3))
    if rng.random() < 0.5:
        parts.pop()
    return "".join(parts)


def number(rng):
    k = rng.randrange(9)
    if k == 0:
        return str(rng.randint(0, 10 ** rng.randint(1, 30)))
    if k == 1:
        return f"{rng.uniform(-1e6, 1e6):.{rng.randint(0, 8)}f}"
    if k == 2:
        return f"{rng.uniform(-1, 1) * 10 ** rng.randint(-30, 30):e}"
    if k == 3:
        return f"{rng.randint(1900, 2100)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    if k == 4:
        return f"{rng.randint(0, 10 ** 9):,}"
    if k == 5:
        return hex(rng.getrandbits(rng.randint(4, 64)))
    if k == 6:
        return " ".join(str(rng.randint(0, 999)) for _ in range(rng.randint(2, 8)))
    if k == 7:
        return f"{sentence(rng)[:-1]} {rng.randint(0, 10 ** 6)} {rng.choice(['kg', 'ms', '%', 'GiB', '$'])}"
    return "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 40)))


def punct(rng):
    chars = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u00ab\u00bb\u201c\u201d\u2018\u2019\u2014\u2013\u00a7\u00b6\u2022"
    s = "".join(rng.choice(chars) for _ in range(rng.randint(1, 24)))
    return s if rng.random() < 0.5 else rng.choice(WORDS) + s + rng.choice(WORDS)


def script_text(rng, name):
    ranges = SCRIPTS[name]
    words = ["".join(rand_cp(rng, ranges) for _ in range(rng.randint(1, 8))) for _ in range(rng.randint(1, 7))]
    if rng.random() < 0.3:
        words.insert(rng.randrange(len(words) + 1), rng.choice(WORDS))
    if rng.random() < 0.2:
        words.append(number(rng))
    sep = "" if name in ("cjk", "thai") and rng.random() < 0.6 else " "
    return sep.join(words) + rng.choice(ENDINGS)


def emoji(rng):
    out = []
    for _ in range(rng.randint(1, 6)):
        k = rng.randrange(6)
        if k == 0:
            out.append(rand_cp(rng, EMOJI_RANGES))
        elif k == 1:  # ZWJ sequence
            out.append(ZWJ.join(rand_cp(rng, EMOJI_RANGES) for _ in range(rng.randint(2, 4))))
        elif k == 2:  # flag: a pair of regional indicators
            out.append(chr(0x1F1E6 + rng.randrange(26)) + chr(0x1F1E6 + rng.randrange(26)))
        elif k == 3:  # skin tone
            out.append(rand_cp(rng, EMOJI_RANGES[:2]) + rng.choice(SKIN))
        elif k == 4:  # variation selector / keycap
            out.append(rng.choice("#*0123456789\u2764\u263a") + VS16 + ("\u20e3" if rng.random() < 0.5 else ""))
        else:
            out.append(rng.choice(WORDS))
        if rng.random() < 0.4:
            out.append(" ")
    return "".join(out)


def control(rng):
    ctl = [chr(c) for c in list(range(0x00, 0x20)) + [0x7F] + list(range(0x80, 0xA0))]
    out = []
    for _ in range(rng.randint(1, 8)):
        out.append(rng.choice(ctl) * rng.randint(1, 3) if rng.random() < 0.5 else rng.choice(WORDS))
    return "".join(out)


def special(rng):
    out = []
    for _ in range(rng.randint(1, 6)):
        out.append(rng.choice(SPECIALS) if rng.random() < 0.6 else sentence(rng))
        out.append(rng.choice(["", "", " ", "\n"]))
    return "".join(out)


def random_planes(rng):
    return "".join(rand_cp(rng, PLANES) for _ in range(rng.randint(1, 12)))


def pieces(rng, vocab):
    return "".join(rng.choice(vocab) for _ in range(rng.randint(1, 10)))


def mixed(rng, gens):
    return rng.choice(["", " ", "\n"]).join(rng.choice(gens)(rng) for _ in range(rng.randint(2, 5)))


def long_text(rng, gens, n_chars):
    out = []
    while sum(map(len, out)) < n_chars:
        out.append(rng.choice(gens)(rng))
    return rng.choice([" ", "\n", "\n\n", ""]).join(out)


def build_corpus(sp):
    rng = random.Random(SEED)
    # Vocabulary pieces as text: the meta space as a real space, byte pieces and control pieces as their literal
    # spelling (they must come out as ordinary characters, not as those ids).
    vocab = [sp.id_to_piece(i).replace("\u2581", " ") for i in range(sp.get_piece_size())]
    gens = [sentence, ws_mix, number, punct, emoji, control, special, random_planes,
            lambda r: script_text(r, r.choice(sorted(SCRIPTS))), lambda r: pieces(r, vocab)]
    cats = [("fixed", None, len(FIXED)), ("sentence", sentence, 350), ("whitespace", ws_mix, 300),
            ("number", number, 220), ("punct", punct, 150)]
    cats += [(f"script_{n}", (lambda r, n=n: script_text(r, n)), 70) for n in sorted(SCRIPTS)]
    cats += [("emoji", emoji, 250), ("control", control, 120), ("special", special, 160),
             ("planes", random_planes, 280), ("vocab_pieces", lambda r: pieces(r, vocab), 220),
             ("edge_ws", lambda r: r.choice(SPACES) * r.randint(1, 5) + r.choice(gens)(r) +
              r.choice(SPACES) * r.randint(0, 5), 120),
             ("mixed", lambda r: mixed(r, gens), 190),
             ("long", lambda r: long_text(r, gens, r.choice([1500, 3000, 6000])), 8)]
    texts, counts = [], []
    for name, gen, n in cats:
        texts += FIXED if gen is None else [gen(rng) for _ in range(n)]
        counts.append(f"{name}:{n}")
    return texts, ",".join(counts)


def flat(chunks):
    """int32 [sum len] of concatenated lists and int32 [N+1] offsets."""
    offsets, data = [0], []
    for c in chunks:
        data.extend(c)
        offsets.append(len(data))
    return torch.tensor(data, dtype=torch.int32), torch.tensor(offsets, dtype=torch.int32)


def write_model_without_bos_eos(path):
    """A 40-piece BPE model with bos_id = eos_id = -1 (identity normalizer: no 240 KB charsmap). Deterministic."""
    buf = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(["hello world", "the quick brown fox", "jumps over the lazy dog"] * 10),
        model_writer=buf, vocab_size=40, model_type="bpe", bos_id=-1, eos_id=-1, unk_id=0, pad_id=-1,
        normalization_rule_name="identity", num_threads=1, minloglevel=2, hard_vocab_limit=False)
    sp = sentencepiece.SentencePieceProcessor(model_proto=buf.getvalue())
    assert sp.bos_id() == -1 and sp.eos_id() == -1
    with open(path, "wb") as f:
        f.write(buf.getvalue())
    print(f"wrote {path} ({len(buf.getvalue())} bytes)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=os.path.join(ROOT, "..", "shared", "data", "llama2-tokenizer",
                                                    "tokenizer.model"))
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "golden"))
    args = ap.parse_args()
    sp = sentencepiece.SentencePieceProcessor(model_file=args.model)
    texts, counts = build_corpus(sp)
    for t in texts:
        t.encode("utf-8")  # raises on a lone surrogate: every string must be valid UTF-8
    ids = [sp.encode(t) for t in texts]
    decodes = [sp.decode(i) for i in ids]
    diff = [k for k, (t, d) in enumerate(zip(texts, decodes)) if t != d]

    text_bytes, text_offsets = flat(list(t.encode("utf-8")) for t in texts)
    id_data, id_offsets = flat(ids)
    dec_bytes, dec_offsets = flat(list(decodes[k].encode("utf-8")) for k in diff)
    with open(args.model, "rb") as f:
        model = f.read()
    meta = dict(format="sentencepiece_ids", model_file="llama2-tokenizer/tokenizer.model", model_bytes=len(model),
                model_sha256=hashlib.sha256(model).hexdigest(), sentencepiece_version=sentencepiece.__version__,
                seed=SEED, n_strings=len(texts), n_ids=len(id_data), vocab=sp.get_piece_size(), bos_id=sp.bos_id(),
                eos_id=sp.eos_id(), unk_id=sp.unk_id(), categories=counts)
    tensors = [("text_bytes", text_bytes), ("text_offsets", text_offsets), ("ids", id_data), ("id_offsets", id_offsets),
               ("decode_diff", torch.tensor(diff, dtype=torch.int32)), ("decode_bytes", dec_bytes),
               ("decode_offsets", dec_offsets)]
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "sp_llama2_ids.bin")
    write_golden(path, meta, tensors)
    print(f"sentencepiece {sentencepiece.__version__}: {len(texts)} strings ({len(text_bytes)} bytes), "
          f"{len(id_data)} ids, {len(diff)} decodes differ from the input; wrote {path} "
          f"({os.path.getsize(path)} bytes)")
    write_model_without_bos_eos(os.path.join(args.out, "sp_no_bos_eos.model"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
