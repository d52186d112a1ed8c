#!/usr/bin/env python3
"""Goldens for tests/test_bpe_tokenizer.cpp: HF `tokenizers` ids and decodes of ~3000 seeded, varied strings under
small byte-level BPE tokenizers trained offline, so the C++ test needs neither Python nor the training text.

Run from anywhere:   python tools/make_bpe_goldens.py   (a venv with tokenizers + torch, see README)
                     [--out tests/golden] [--retrain]
The tokenizers are tests/golden/bpe_*.tokenizer.json. They are trained (on Debian's public-domain fortune files,
`apt-get install fortunes fortunes-min`, plus a few multilingual lines below) only when missing or with --retrain;
otherwise the committed files are used, so the goldens can be rebuilt without the fortunes.

    bpe_gpt2style    ByteLevel(add_prefix_space=False, use_regex=True) pre-tokenizer (GPT-2), vocab 2000; special
                     tokens <|endoftext|> <s> </s> <|im_start|> <|im_end|>, plus <mask> (special, lstrip),
                     [[note]] (single_word) and <tool> (rstrip), both plain added tokens
    bpe_llama3style  Split(LLaMA-3 regex, Isolated) + ByteLevel(use_regex=False), ignore_merges=true, vocab 2000,
                     plus vocabulary entries that no merge sequence builds (only ignore_merges reaches them, as
                     in LLaMA-3's tiktoken-converted vocabulary)
    bpe_qwen2style   NFC normalizer + Split(Qwen2 regex, Isolated) + ByteLevel(use_regex=False), vocab 1500;
                     special tokens <|endoftext|> <|im_start|> <|im_end|>, plus "Ame\u0301lie" (plain, normalized)
A variant is a committed file plus a JSON patch applied on load (the C++ test applies the same patch):
    bpe_gpt2style_prefix   bpe_gpt2style with pre_tokenizer.add_prefix_space = true

Writes tests/golden/bpe_ids.bin in the golden format of tools/make_llama_goldens.py. Tensors (all int32):
    text_bytes, text_offsets [N+1]        the UTF-8 bytes of every string (one byte per int32), concatenated
    <tok>.ids, <tok>.id_offsets [N+1]     tokenizer.encode(s, add_special_tokens=False).ids, concatenated
    <tok>.decode_diff [D]                 indices i whose tokenizer.decode(ids of i, skip_special_tokens=False) is
                                          not string i; <tok>.decode_bytes / <tok>.decode_offsets [D+1]: those
                                          (empty for a variant: <tok>.decodes = false)
Metadata: format, tokenizers_version, seed, n_strings, tokenizers (comma-separated), <tok>.file, <tok>.patch,
<tok>.sha256 (of the file), <tok>.n_ids, <tok>.decodes, categories ("name:count,...", in corpus order).
"""
import argparse
import glob
import hashlib
import json
import os
import random
import sys
import unicodedata

import tokenizers
import torch
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_llama_goldens import write_golden  # noqa: E402  (same golden format)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEED = 9001
N_RANDOM = 2700  # generated strings, on top of the fixed ones

LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                  r"|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                 r"|\s*[\r\n]+|\s+(?!\S)|\s+")
SPECIAL = ["<|endoftext|>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"]
LLAMA3_SPECIAL = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>",
                  "<|im_start|>", "<|im_end|>"]
QWEN2_SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# Extra LLaMA-3-style vocabulary entries that no merge builds (text before byte-level mapping).
UNREACHABLE_WORDS = [" tokenizer", " Strata", " parity", " LISA", "DON", " ZÜRICH", " Ελλάδα", " привет", "東京",
                     " naïve", "123", " 😀", ")))", "\n\n\n", " the the", "qu"]

# Multilingual lines (written for this tool) mixed into the training text so merges also cover non-ASCII text.
EXTRA_TRAINING = [
    "Καλημέρα κόσμε, η γλώσσα είναι ελληνική.", "Привет, мир! Как дела у тебя сегодня?",
    "こんにちは世界、東京は大きな都市です。", "你好，世界。我们今天学习分词器。", "مرحبا بالعالم، كيف حالك اليوم؟",
    "Zürich, São Paulo, Ångström, naïve café, résumé, façade, coöperate.", "안녕하세요 세계, 오늘 날씨가 좋네요.",
    "שלום עולם, מה שלומך?", "नमस्ते दुनिया, आप कैसे हैं?", "สวัสดีชาวโลก", "😀 😂 👍 🎉 ❤️ 🇩🇪 🇯🇵 👨‍👩‍👧",
    "DON'T SHOUT, you're fine; it's OK, we'll see, I'd say, they've gone, I'm here.",
    "def tokenize(text):\n    return [t for t in text.split()]\n\n", "x = 12345 + 67890 * 3.14159 - 2024",
]

WORDS = ("the of and to in is was for on that with as by at from it be this are an have not which or had but his "
         "they you one were her all she there would their we him been has when who will more no if out so said "
         "what up its about into than them can only other new some could time these two may then do first any "
         "fortune cookie computer program wisdom bug feature kernel compile tokenizer LISA GPU AdamW gradient "
         "Zürich naïve café résumé façade coöperate Straße œuvre ĳ Ωmega").split()
CONTRACTIONS = ["don't", "DON'T", "Don'T", "you're", "YOU'RE", "we've", "WE'VE", "I'm", "I'M", "she'll", "SHE'LL",
                "he'd", "HE'D", "it's", "IT'S", "can't", "won't", "'s", "'S", "'ll", "'Ll", "'ve", "'d", "'M",
                "o'clock", "rock'n'roll", "’s", "it’s", "'ſ", "'ſt", "'K", "'\u212a"]
SPACES = [" ", "  ", "   ", "\t", "\t\t", "\n", "\n\n", "\r\n", "\r", " \n", "\n ", " \t ", "\u00a0", "\u3000",
          "\u2009", "\u2003", "\u200b", "\u2028", "\u2029", "\u0085", "\u180e", "\x0b", "\x0c", "        "]
SCRIPTS = {
    "latin_accented": [(0x00C0, 0x00FF), (0x0100, 0x017F), (0x1E00, 0x1EFF)],
    "greek": [(0x0391, 0x03A9), (0x03B1, 0x03C9), (0x1F00, 0x1F15)],
    "cyrillic": [(0x0400, 0x045F)],
    "cjk": [(0x4E00, 0x9FFF), (0x3041, 0x3096), (0x30A1, 0x30FA)],
    "hangul": [(0xAC00, 0xD7A3)],
    "arabic": [(0x0621, 0x064A), (0x064B, 0x0652), (0x0660, 0x0669)],
    "hebrew": [(0x05D0, 0x05EA), (0x05B0, 0x05BD)],
    "devanagari": [(0x0905, 0x0939), (0x093E, 0x094D), (0x0966, 0x096F)],
    "thai": [(0x0E01, 0x0E3A), (0x0E40, 0x0E4E)],
}
COMBINING = [0x0300, 0x0301, 0x0302, 0x0303, 0x0308, 0x030A, 0x030C, 0x0323, 0x0327, 0x0328, 0x031B, 0x0345,
             0x0313, 0x0314, 0x0342, 0x05B8, 0x093C, 0x3099, 0x309A]
EMOJI = [(0x1F300, 0x1F5FF), (0x1F600, 0x1F64F), (0x1F680, 0x1F6FF), (0x1F900, 0x1F9FF), (0x2600, 0x26FF)]
TOKEN_BITS = ["<|endoftext|>", "<s>", "</s>", "<|im_start|>", "<|im_end|>", "<|begin_of_text|>", "<|eot_id|>",
              "<mask>", "[[note]]", "<tool>", "<|im_start", "|im_end|>", "<s", "/s>", "<|", "|>", "<|endoftext|",
              "<|im_start|>user\n", "<|im_start|>assistant\n", "<|im_end|>\n"]

FIXED = [
    "", " ", "  ", "\t", "\n", "\r\n", "\n\n\n", " \t\n ", "a", " a", "a ", "Hello world", "Hello, world!",
    "  Hello  world  ", "hello\tworld", "line1\r\nline2\r\n", "   leading", "trailing   ", "a  b   c    d",
    "hi<|im_start|>user\n", "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n",
    "<|endoftext|>", "<|endoftext|><|endoftext|>", "x<|endoftext|>y", "<s>Hello</s>", "<s></s>", " <s> ",
    "<|begin_of_text|>Hi<|eot_id|>", "<|im_start", "<|im_start|", "<<|im_end|>>", "a <mask> b", "a    <mask>",
    "<mask>", "\t<mask>", "[[note]]", "a [[note]] b", "a[[note]]b", "x [[note]]y", "é[[note]]", "<tool>   x",
    "<tool>\n\nnext", "DON'T", "you're", "YOU'RE", "we'Ve", "I'M", "'s", "''s", "'ſ", "don’t", "rock'n'roll",
    "0", "00", "007", "1234567", "12345678901234567890", "3.14159", "1,000,000", "-2.5e-10", "٣٤٥", "²³¹", "Ⅻ",
    "½", "①②", "café", "cafe\u0301", "Å", "A\u030a", "\u212b", "\u1e9b\u0323", "\u0071\u0307\u0323", "ệ",
    "e\u0323\u0302", "e\u0302\u0323", "\u1100\u1161\u11a8", "\u1100\u1161", "한국어", "\u110b\u1165\u11bc",
    "ｆｕｌｌ", "ﬁ", "Ωmega \u2126", "\ufeffBOM", "zero\u200bwidth", "\u00a0nbsp\u00a0", "\u3000ideo\u3000",
    "\u180e", "a\u180eb", "a\u0085b", "\u2028\u2029", "\ufffd", "\U0010fffd", "\U0001f600", "👨‍👩‍👧‍👦", "🇩🇪🇯🇵",
    "👍🏽", "1️⃣", "❤️", "🏳️‍🌈", "你好，世界", "こんにちは", "Привет, мир", "Γειά σου", "مرحبا بالعالم", "שלום",
    "नमस्ते", "สวัสดี", "def f(x):\n    return x ** 2\n", "{\"key\": [1, 2, 3]}", "https://example.com/a?b=1#c",
    "Amélie", "Ame\u0301lie", "xAmélie", "a\u1df8\u0342\u0300", "e\u0898\u0301", "\U00011935\U00011930",
    "!!!???...", "---", "((()))[[]]{{}}", "\\n\\t", "\x00", "a\x00b", "\x7f\x1b[0m", " " * 300, "\n" * 100,
    "word " * 200, "ab" * 400, "\t \n" * 50, "x" + " " * 2000 + "y",
]


def rand_cp(rng, ranges):
    lo, hi = rng.choice(ranges)
    return chr(rng.randint(lo, hi))


def assigned_cp(rng):
    """A random code point that Unicode 14 (Python's unicodedata here) assigns; no surrogates."""
    while True:
        c = rng.choice([rng.randint(0, 0x2FFF), rng.randint(0x3000, 0xFFFF), rng.randint(0x10000, 0x2FFFF),
                        rng.randint(0xE0000, 0x10FFFF)])
        if not 0xD800 <= c <= 0xDFFF and unicodedata.category(chr(c)) != "Cn":
            return chr(c)


def sentence(rng):
    words = [rng.choice(WORDS) for _ in range(rng.randint(1, 10))]
    if rng.random() < 0.6:
        words[0] = words[0].capitalize()
    if rng.random() < 0.2:
        words[rng.randrange(len(words))] = rng.choice(WORDS).upper()
    return " ".join(words) + rng.choice([".", "!", "?", "...", ",", "", ":", "\u2026", "\u3002"])


def gen_ascii(rng):
    return sentence(rng)


def gen_whitespace(rng):
    parts = [rng.choice(SPACES) if rng.random() < 0.5 else ""]
    for _ in range(rng.randint(1, 6)):
        parts.append(rng.choice(WORDS) if rng.random() < 0.7 else sentence(rng))
        parts.append(rng.choice(SPACES) * rng.randint(1, 4))
    if rng.random() < 0.4:
        parts.pop()
    return "".join(parts)


def gen_number(rng):
    k = rng.randrange(7)
    if k == 0:
        return str(rng.randint(0, 10 ** rng.randint(1, 25)))
    if k == 1:
        return f"{rng.uniform(-1e5, 1e5):.{rng.randint(0, 6)}f}"
    if k == 2:
        return f"{rng.randint(0, 10 ** 9):,}"
    if k == 3:
        return " ".join(str(rng.randint(0, 9999)) for _ in range(rng.randint(2, 6)))
    if k == 4:
        return f"{sentence(rng)[:-1]} {rng.randint(0, 10 ** 6)}{rng.choice(['kg', ' ms', '%', 'GiB', '$'])}"
    if k == 5:
        return "".join(rng.choice("0123456789٠١٢٣٤٥٦٧٨٩²³½Ⅻ۱۲") for _ in range(rng.randint(1, 12)))
    return f"{rng.randint(1900, 2100)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23)}:00"


def gen_contraction(rng):
    out = []
    for _ in range(rng.randint(1, 5)):
        out.append(rng.choice(CONTRACTIONS) if rng.random() < 0.6 else rng.choice(WORDS))
        out.append(rng.choice([" ", " ", "", "  ", "\n", ", "]))
    return "".join(out)


def gen_punct(rng):
    chars = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ «»“”‘’—–§¶•"
    s = "".join(rng.choice(chars) for _ in range(rng.randint(1, 20)))
    return s if rng.random() < 0.5 else rng.choice(WORDS) + s + rng.choice(WORDS)


def gen_script(rng):
    name = rng.choice(sorted(SCRIPTS))
    words = ["".join(rand_cp(rng, SCRIPTS[name]) for _ in range(rng.randint(1, 7))) for _ in range(rng.randint(1, 5))]
    if rng.random() < 0.3:
        words.insert(rng.randrange(len(words) + 1), rng.choice(WORDS))
    sep = "" if name in ("cjk", "thai") and rng.random() < 0.6 else " "
    return sep.join(words) + rng.choice(["", ".", "。", "،", "!", "?"])


def gen_combining(rng):
    """Letters followed by runs of combining marks in random order: NFC composes and reorders them."""
    out = []
    for _ in range(rng.randint(1, 6)):
        out.append(rng.choice("aeiouAEIOUnNcCsSzZqyYwWαεηιουωΑΕΗ" + "ᄀᄁᄂ" + "ᅡᅢᅣ" + "ᆨᆩ" + "かきくカキク"))
        for _ in range(rng.randint(0, 3)):
            out.append(chr(rng.choice(COMBINING)))
        if rng.random() < 0.3:
            out.append(" ")
    return "".join(out)


def gen_emoji(rng):
    out = []
    for _ in range(rng.randint(1, 5)):
        k = rng.randrange(5)
        if k == 0:
            out.append(rand_cp(rng, EMOJI))
        elif k == 1:
            out.append("\u200d".join(rand_cp(rng, EMOJI) for _ in range(rng.randint(2, 4))))
        elif k == 2:
            out.append(chr(0x1F1E6 + rng.randrange(26)) + chr(0x1F1E6 + rng.randrange(26)))
        elif k == 3:
            out.append(rand_cp(rng, EMOJI[:2]) + chr(rng.randint(0x1F3FB, 0x1F3FF)))
        else:
            out.append(rng.choice("#*0123456789\u2764\u263a") + "\ufe0f" + ("\u20e3" if rng.random() < 0.5 else ""))
        if rng.random() < 0.4:
            out.append(rng.choice([" ", "  ", rng.choice(WORDS)]))
    return "".join(out)


def gen_special(rng):
    out = []
    for _ in range(rng.randint(1, 6)):
        out.append(rng.choice(TOKEN_BITS) if rng.random() < 0.5 else sentence(rng))
        out.append(rng.choice(["", "", " ", "  ", "\n", "\t"]))
    return "".join(out)


def gen_random_cps(rng):
    return "".join(assigned_cp(rng) for _ in range(rng.randint(1, 12)))


def gen_mixed(rng):
    gens = [gen_ascii, gen_whitespace, gen_number, gen_contraction, gen_punct, gen_script, gen_combining,
            gen_emoji, gen_special, gen_random_cps]
    return rng.choice(["", " ", "\n", "  "]).join(rng.choice(gens)(rng) for _ in range(rng.randint(2, 4)))


GENERATORS = [("ascii", gen_ascii, 3), ("whitespace", gen_whitespace, 3), ("numbers", gen_number, 2),
              ("contractions", gen_contraction, 2), ("punct", gen_punct, 2), ("scripts", gen_script, 3),
              ("combining", gen_combining, 2), ("emoji", gen_emoji, 2), ("special", gen_special, 3),
              ("random_cps", gen_random_cps, 2), ("mixed", gen_mixed, 3)]


def corpus():
    rng = random.Random(SEED)
    strings, categories = list(FIXED), [("fixed", len(FIXED))]
    total_w = sum(w for _, _, w in GENERATORS)
    for name, gen, w in GENERATORS:
        n = N_RANDOM * w // total_w
        strings += [gen(rng) for _ in range(n)]
        categories.append((name, n))
    return strings, categories


# ---- training ------------------------------------------------------------------------------------------------------

def training_text():
    files = sorted(f for f in glob.glob("/usr/share/games/fortunes/*")
                   if os.path.isfile(f) and not os.path.islink(f) and not f.endswith(".dat"))
    if not files:
        sys.exit("no fortune files under /usr/share/games/fortunes: apt-get install -y fortunes fortunes-min "
                 "(needed only to retrain the tokenizers)")
    for f in files:
        with open(f, encoding="utf-8", errors="replace") as fh:
            yield fh.read()
    for _ in range(300):
        yield from EXTRA_TRAINING


def byte_level(text):
    """GPT-2's bytes-to-unicode mapping of text's UTF-8 bytes."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table, n = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + n)
            n += 1
    return "".join(table[b] for b in text.encode())


def train(kind, vocab_size):
    if kind == "gpt2style":
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        special = SPECIAL
    elif kind == "llama3style":
        tok = Tokenizer(models.BPE(ignore_merges=True))
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False)])
        special = LLAMA3_SPECIAL
    else:
        tok = Tokenizer(models.BPE())
        tok.normalizer = normalizers.NFC()
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)])
        special = QWEN2_SPECIAL
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, special_tokens=special,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(training_text(), trainer)
    if kind == "qwen2style":  # a plain added token whose content NFC changes: matched in the normalized text
        tok.add_tokens([AddedToken("Ame\u0301lie", special=False, normalized=True)])
    if kind == "gpt2style":
        tok.add_special_tokens([AddedToken("<mask>", lstrip=True, special=True, normalized=False)])
        tok.add_tokens([AddedToken("[[note]]", single_word=True, special=False),
                        AddedToken("<tool>", rstrip=True, special=False)])
    spec = json.loads(tok.to_str())
    if kind == "llama3style":
        vocab = spec["model"]["vocab"]
        next_id = max(max(vocab.values()), max(t["id"] for t in spec["added_tokens"])) + 1
        for w in UNREACHABLE_WORDS:
            if byte_level(w) not in vocab:
                vocab[byte_level(w)] = next_id
                next_id += 1
    return spec


# ---- goldens -------------------------------------------------------------------------------------------------------

def apply_patch(spec, patch):
    spec = json.loads(json.dumps(spec))
    for path, value in patch.items():
        node = spec
        keys = path.split(".")
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value
    return spec


def i32(values):
    return torch.tensor(list(values), dtype=torch.int32)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "golden"))
    ap.add_argument("--retrain", action="store_true", help="train the tokenizers again (needs the fortune files)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    files = {"bpe_gpt2style": ("gpt2style", 2000), "bpe_llama3style": ("llama3style", 2000),
             "bpe_qwen2style": ("qwen2style", 1500)}
    specs = {}
    for name, (kind, vocab) in files.items():
        path = os.path.join(args.out, f"{name}.tokenizer.json")
        if args.retrain or not os.path.exists(path):
            spec = train(kind, vocab)
            Tokenizer.from_str(json.dumps(spec)).save(path, pretty=True)
            print(f"trained {path}: {os.path.getsize(path)} bytes")
        with open(path, encoding="utf-8") as f:
            specs[name] = (os.path.basename(path), json.load(f), hashlib.sha256(open(path, "rb").read()).hexdigest())

    variants = {name: (name, {}) for name in files}
    variants["bpe_gpt2style_prefix"] = ("bpe_gpt2style", {"pre_tokenizer.add_prefix_space": True})

    strings, categories = corpus()
    blobs = [s.encode("utf-8") for s in strings]
    text_offsets = [0]
    for b in blobs:
        text_offsets.append(text_offsets[-1] + len(b))
    meta = {"format": "bpe_ids v1", "tokenizers_version": tokenizers.__version__, "seed": SEED,
            "n_strings": len(strings), "tokenizers": ",".join(variants),
            "categories": ",".join(f"{n}:{c}" for n, c in categories)}
    tensors = [("text_bytes", i32(b for blob in blobs for b in blob)), ("text_offsets", i32(text_offsets))]
    for vname, (base, patch) in variants.items():
        file, spec, sha = specs[base]
        tok = Tokenizer.from_str(json.dumps(apply_patch(spec, patch)))
        ids, id_offsets, diff, dec_bytes, dec_offsets = [], [0], [], [], [0]
        check_decode = not patch  # a variant's decodes (e.g. all with a prefix space) would only repeat the base's
        for i, s in enumerate(strings):
            e = tok.encode(s, add_special_tokens=False).ids
            ids += e
            id_offsets.append(len(ids))
            d = tok.decode(e, skip_special_tokens=False)
            if check_decode and d != s:
                diff.append(i)
                dec_bytes += d.encode("utf-8")
                dec_offsets.append(len(dec_bytes))
        meta.update({f"{vname}.file": file, f"{vname}.patch": json.dumps(patch), f"{vname}.sha256": sha,
                     f"{vname}.n_ids": len(ids), f"{vname}.decodes": str(check_decode).lower()})
        tensors += [(f"{vname}.ids", i32(ids)), (f"{vname}.id_offsets", i32(id_offsets)),
                    (f"{vname}.decode_diff", i32(diff)), (f"{vname}.decode_bytes", i32(dec_bytes)),
                    (f"{vname}.decode_offsets", i32(dec_offsets))]
        print(f"{vname}: {len(ids)} ids, {len(diff)} decodes differ from the input")
    out = os.path.join(args.out, "bpe_ids.bin")
    write_golden(out, meta, tensors)
    print(f"wrote {out}: {len(strings)} strings, {text_offsets[-1]} bytes of text, {os.path.getsize(out)} bytes")


if __name__ == "__main__":
    main()
