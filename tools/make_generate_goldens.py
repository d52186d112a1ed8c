#!/usr/bin/env python3
"""Goldens for text generation: the tokens Hugging Face transformers' `generate` picks greedily (batch 1 and
left-padded batches) and the logits after each prompt, for three seeded random tiny LLaMA folders and for
../shared/data/stories260K (a real pretrained tiny LLaMA).

Run from the repository root (a venv with torch + transformers, see README; CPU only, no network or hub):
    python tools/make_generate_goldens.py              writes the model folders and the goldens
    python tools/make_generate_goldens.py --check      also fails unless batched generation equals batch-1
                                                       generation for every prompt and the logits after each
                                                       prompt match generate's first-step logits (1e-5 of
                                                       their largest magnitude; they are not bitwise equal:
                                                       generate's prefill runs the head on the last position
                                                       only, logits_to_keep=1, a different matmul shape)
    python tools/make_generate_goldens.py --verify     writes nothing: regenerates everything in a temporary
                                                       folder and fails unless it is byte-identical to the
                                                       committed files
    [--out tests/golden]
Output is deterministic for a given torch / transformers version (one CPU thread, fixed seeds, float32, eager
attention). The stories case is skipped, with a message, when ../shared/data/stories260K is absent.

Writes:
  tests/golden/generate/<case>/{config.json, model.safetensors}   for case in tiny_gqa (GQA 4/2), tiny_mha
        (MHA 4/4), tiny_tied (GQA 4/2, tied embeddings): LlamaForCausalLM.save_pretrained, float32 weights drawn
        from a seeded generator (vocab 96, hidden 32, ffn 64, 2 layers, 64 positions, RoPE theta 1e4, eps 1e-5;
        bos 1, eos 2). generation_config.json is deleted. The weight seed is the first one, counting up from the
        case's base seed, whose greedy decoding has a top-1 / top-2 logit gap of at least MIN_MARGIN_RANDOM at
        every step of every prompt (batch 1 and batched), so the tokens do not hinge on rounding, and emits at
        least MIN_DISTINCT distinct tokens over the four prompts (not a model that repeats one token).
  tests/golden/generate_<case>.bin   one golden per case (and generate_stories260k.bin), read back through
        tests/support/golden_file.h. The goldens are computed on the folders as reloaded by
        LlamaForCausalLM.from_pretrained, i.e. on exactly the committed weights.

Generation settings (the same for every case): GenerationConfig(do_sample=False, num_beams=1,
max_new_tokens=MAX_NEW_TOKENS, eos_token_id=None, pad_token_id=0, use_cache=True), and the model's own
generation_config.eos_token_id is cleared as well, because transformers 5 fills every None field of the config
passed to generate from model.generation_config (stories260K's would be eos 2). Generation therefore never stops
early: every prompt gets exactly MAX_NEW_TOKENS new tokens, even after emitting token 2.

File format: STRGOLD version 1, written by write_golden in tools/make_llama_goldens.py (see its docstring).

Metadata (all strings): format ("generate"), case, model_dir (repository-relative folder of the model;
"shared/stories260K" means ../shared/data/stories260K next to the repository), n_prompts, max_new_tokens,
min_margin (smallest top-1 minus top-2 logit over every step of the batch-1 greedy runs), min_margin_batched (the
same over the batched run), batched_matches_greedy ("true"/"false"), seed (weight seed; "none" for stories),
prompt_seed, pad_token_id, eos_token_id (the config's; generation ignored it), torch_version,
transformers_version, python_version.

Tensors, for each prompt i in 0 .. n_prompts-1:
    prompt.{i}       int32 [len_i]             the prompt's token ids (random cases: lengths 1, 4, 9, 17, ids in
                                               [3, vocab); stories: BOS 1 followed by seeded ids in [3, 512),
                                               lengths 1, 5, 12, 20)
    greedy.{i}       int32 [max_new_tokens]    the new tokens of generate on that prompt alone (batch 1)
    batched.{i}      int32 [max_new_tokens]    the new tokens of row i of ONE generate call on all prompts, left
                                               padded with pad_token_id 0 and an attention_mask (0 on the pads)
    last_logits.{i}  f32   [vocab]             logits at the last prompt position of a forward pass over the
                                               prompt alone (float32, eager attention)
"""
import argparse
import filecmp
import os
import platform
import shutil
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402
import transformers  # noqa: E402
from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_llama_goldens import write_golden  # noqa: E402  (same golden format)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STORIES = os.path.join(ROOT, "..", "shared", "data", "stories260K")

MAX_NEW_TOKENS = 24
PAD_ID = 0
MIN_MARGIN_RANDOM = 1e-2   # acceptance threshold of the weight-seed search (the brief's hard floor is 1e-3)
MIN_MARGIN_STORIES = 1e-4  # below this a stories prompt gets another seed
MIN_DISTINCT = 32          # ... and the greedy runs of a case must emit at least this many distinct tokens, so a
                           # model that just repeats its last token (which hides cache and position bugs) is skipped
MAX_SEED_TRIES = 64

TINY = dict(vocab=96, dim=32, ffn_dim=64, n_layers=2, max_seq_len=64, rope_theta=10000.0, norm_eps=1e-5,
            init_range=0.2, embed_std=0.5, linear_std=0.4, head_std=0.3)
RANDOM_CASES = [
    dict(case="tiny_gqa", n_heads=4, n_kv_heads=2, tie=False, seed=100, prompt_seed=11),
    dict(case="tiny_mha", n_heads=4, n_kv_heads=4, tie=False, seed=200, prompt_seed=22),
    dict(case="tiny_tied", n_heads=4, n_kv_heads=2, tie=True, seed=300, prompt_seed=33),
]
RANDOM_PROMPT_LENS = [1, 4, 9, 17]
STORIES_PROMPT_LENS = [1, 5, 12, 20]
STORIES_PROMPT_SEED = 2600


# ---------------------------------------------------------------------------------------------- models

def random_model(c, seed):
    """A LlamaForCausalLM with the TINY shape and weights drawn from a generator seeded with `seed`."""
    cfg = LlamaConfig(
        vocab_size=TINY["vocab"], hidden_size=TINY["dim"], intermediate_size=TINY["ffn_dim"],
        num_hidden_layers=TINY["n_layers"], num_attention_heads=c["n_heads"], num_key_value_heads=c["n_kv_heads"],
        hidden_act="silu", max_position_embeddings=TINY["max_seq_len"], rms_norm_eps=TINY["norm_eps"],
        tie_word_embeddings=c["tie"], initializer_range=TINY["init_range"],
        rope_parameters={"rope_type": "default", "rope_theta": TINY["rope_theta"]},
        attention_bias=False, mlp_bias=False, attention_dropout=0.0,
        bos_token_id=1, eos_token_id=2, pad_token_id=None)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(cfg).to(torch.float32)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():  # tied: the shared matrix appears once, as the embedding
            r = torch.randn(p.shape, generator=g, dtype=torch.float64)
            if name.endswith("norm.weight"):
                v = 1.0 + 0.1 * r  # not all ones, so a loader that skips them is caught
            elif name == "model.embed_tokens.weight":
                v = TINY["embed_std"] * r
            elif name == "lm_head.weight":
                v = TINY["head_std"] * r
            else:
                v = TINY["linear_std"] * r
            p.copy_(v.to(torch.float32))
    tied = model.lm_head.weight is model.model.embed_tokens.weight
    assert tied == c["tie"], f"tie_word_embeddings={c['tie']} but lm_head shares the embedding: {tied}"
    return prepare(model)


def load_model(folder):
    model = LlamaForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager",
                                             local_files_only=True)
    return prepare(model)


def prepare(model):
    model.config._attn_implementation = "eager"
    assert model.config._attn_implementation == "eager", model.config._attn_implementation
    assert model.model.rotary_emb.rope_type == "default"
    assert all(p.dtype == torch.float32 for p in model.parameters())
    # transformers 5 fills the None fields of the GenerationConfig given to generate() from this one, so an
    # eos_token_id left here would stop generation at token 2 although ours says None.
    model.generation_config.eos_token_id = None
    model.generation_config.pad_token_id = PAD_ID
    model.eval()
    return model


def save_model(model, folder):
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    model.save_pretrained(folder)
    extra = os.path.join(folder, "generation_config.json")
    if os.path.exists(extra):
        os.remove(extra)
    files = sorted(os.listdir(folder))
    assert files == ["config.json", "model.safetensors"], files


# ------------------------------------------------------------------------------------------ generation

def generation_config():
    return GenerationConfig(do_sample=False, num_beams=1, max_new_tokens=MAX_NEW_TOKENS, min_new_tokens=None,
                            eos_token_id=None, pad_token_id=PAD_ID, use_cache=True,
                            return_dict_in_generate=True, output_logits=True)


def top2_gap(logits):
    """Per row: largest minus second-largest logit (float64)."""
    top = torch.topk(logits.double(), 2, dim=-1).values
    return top[..., 0] - top[..., 1]


@torch.no_grad()
def greedy_one(model, prompt):
    """New tokens of batch-1 greedy generation, its step logits [N, V] and the smallest top-2 gap."""
    ids = prompt.reshape(1, -1)
    out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), generation_config=generation_config())
    seq = out.sequences[0]
    assert seq.numel() == ids.shape[1] + MAX_NEW_TOKENS, f"generation stopped early: {seq.numel()} tokens"
    assert torch.equal(seq[:ids.shape[1]], prompt)
    steps = torch.stack([x[0] for x in out.logits])
    assert steps.shape[0] == MAX_NEW_TOKENS
    assert torch.equal(steps.argmax(-1), seq[ids.shape[1]:]), "greedy tokens are not the argmax of the logits"
    return seq[ids.shape[1]:].clone(), steps, float(top2_gap(steps).min())


@torch.no_grad()
def greedy_batched(model, prompts):
    """New tokens of ONE left-padded batched greedy generation per row, and the smallest top-2 gap."""
    L = max(p.numel() for p in prompts)
    ids = torch.full((len(prompts), L), PAD_ID, dtype=torch.int64)
    mask = torch.zeros((len(prompts), L), dtype=torch.int64)
    for i, p in enumerate(prompts):
        ids[i, L - p.numel():] = p
        mask[i, L - p.numel():] = 1
    out = model.generate(input_ids=ids, attention_mask=mask, generation_config=generation_config())
    assert out.sequences.shape == (len(prompts), L + MAX_NEW_TOKENS), tuple(out.sequences.shape)
    assert torch.equal(out.sequences[:, :L], ids)
    steps = torch.stack(list(out.logits), dim=1)  # [B, N, V]
    new = out.sequences[:, L:]
    assert torch.equal(steps.argmax(-1), new)
    return [new[i].clone() for i in range(len(prompts))], float(top2_gap(steps).min())


@torch.no_grad()
def last_logits(model, prompt):
    return model(input_ids=prompt.reshape(1, -1)).logits[0, -1].clone()


def random_prompts(seed, lens, vocab, bos=None):
    g = torch.Generator().manual_seed(seed)
    out = []
    for n in lens:
        p = torch.randint(3, vocab, (n,), generator=g, dtype=torch.int64)
        if bos is not None:
            p[0] = bos
        out.append(p)
    return out


def evaluate(model, prompts):
    greedy, steps, margins = [], [], []
    for p in prompts:
        toks, st, m = greedy_one(model, p)
        greedy.append(toks)
        steps.append(st)
        margins.append(m)
    batched, m_batched = greedy_batched(model, prompts)
    return dict(greedy=greedy, steps=steps, margins=margins, batched=batched, min_margin_batched=m_batched)


# ----------------------------------------------------------------------------------------------- cases

def write_case(out_dir, case, model_dir, model, prompts, res, seed, prompt_seed, eos_id, strict):
    matches = [torch.equal(g, b) for g, b in zip(res["greedy"], res["batched"])]
    lasts = [last_logits(model, p) for p in prompts]
    first_step_diff = max(float((l - s[0]).abs().max()) for l, s in zip(lasts, res["steps"]))
    min_margin = min(res["margins"])
    print(f"  min top-1/top-2 margin: greedy {min_margin:.4g} (per prompt "
          + ", ".join(f"{m:.3g}" for m in res["margins"]) + f"), batched {res['min_margin_batched']:.4g}")
    print("  batched == greedy per prompt: " + ", ".join(str(m) for m in matches))
    for i, (g, b) in enumerate(zip(res["greedy"], res["batched"])):
        if not matches[i]:
            first = int((g != b).nonzero()[0])
            print(f"  MISMATCH prompt {i}: batched differs from greedy from new token {first} on")
    print(f"  last_logits vs generate's first-step logits: max |diff| {first_step_diff:.3g}")
    eos_hits = [i for i, g in enumerate(res["greedy"]) if eos_id is not None and bool((g == eos_id).any())]
    if eos_hits:
        print(f"  note: greedy output of prompt(s) {eos_hits} contains the config's eos id {eos_id} "
              "(generation continued past it)")
    if strict:
        assert all(matches), "batched generation differs from batch-1 generation"
        scale = max(float(l.abs().max()) for l in lasts)
        assert first_step_diff <= 1e-5 * scale, "forward logits differ from generate's first-step logits"

    meta = {
        "format": "generate", "case": case, "model_dir": model_dir, "n_prompts": len(prompts),
        "max_new_tokens": MAX_NEW_TOKENS, "min_margin": repr(min_margin),
        "min_margin_batched": repr(res["min_margin_batched"]),
        "batched_matches_greedy": "true" if all(matches) else "false",
        "seed": "none" if seed is None else seed, "prompt_seed": prompt_seed, "pad_token_id": PAD_ID,
        "eos_token_id": "none" if eos_id is None else eos_id,
        "torch_version": torch.__version__, "transformers_version": transformers.__version__,
        "python_version": platform.python_version(),
    }
    tensors = []
    for i, p in enumerate(prompts):
        tensors += [(f"prompt.{i}", p.to(torch.int32)), (f"greedy.{i}", res["greedy"][i].to(torch.int32)),
                    (f"batched.{i}", res["batched"][i].to(torch.int32)), (f"last_logits.{i}", lasts[i])]
    path = os.path.join(out_dir, f"generate_{case}.bin")
    write_golden(path, meta, tensors)
    print(f"  wrote {path}: {os.path.getsize(path)} bytes")
    for i, g in enumerate(res["greedy"]):
        print(f"    prompt {i} ({prompts[i].numel()} tokens) -> {g.tolist()}")


def random_case(c, out_dir, strict):
    print(c["case"])
    prompts = random_prompts(c["prompt_seed"], RANDOM_PROMPT_LENS, TINY["vocab"])
    seed = None
    for seed in range(c["seed"], c["seed"] + MAX_SEED_TRIES):
        res = evaluate(random_model(c, seed), prompts)
        m = min(min(res["margins"]), res["min_margin_batched"])
        distinct = len(set(torch.cat(res["greedy"]).tolist()))
        print(f"  weight seed {seed}: min margin {m:.4g}, {distinct} distinct new tokens")
        if m >= MIN_MARGIN_RANDOM and distinct >= MIN_DISTINCT:
            break
    else:
        raise SystemExit(f"{c['case']}: no weight seed in {MAX_SEED_TRIES} tries reached margin {MIN_MARGIN_RANDOM} "
                         f"with {MIN_DISTINCT} distinct tokens")
    folder = os.path.join(out_dir, "generate", c["case"])
    save_model(random_model(c, seed), folder)
    model = load_model(folder)  # the goldens come from the committed files, reloaded
    res = evaluate(model, prompts)
    assert min(res["margins"]) >= MIN_MARGIN_RANDOM and res["min_margin_batched"] >= MIN_MARGIN_RANDOM
    size = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))
    print(f"  wrote {folder}: {size} bytes")
    write_case(out_dir, c["case"], f"tests/golden/generate/{c['case']}", model, prompts, res, seed,
               c["prompt_seed"], model.config.eos_token_id, strict)


def stories_case(out_dir, strict):
    print("stories260k")
    if not os.path.isdir(STORIES):
        print(f"  skipped: {STORIES} is absent")
        return
    model = load_model(STORIES)
    V = model.config.vocab_size
    assert MAX_NEW_TOKENS + max(STORIES_PROMPT_LENS) <= model.config.max_position_embeddings
    # Each prompt after the first (BOS alone) gets its own seed, counted up until its greedy run is not decided
    # by a near tie.
    prompts = [torch.tensor([1])]
    _, _, m = greedy_one(model, prompts[0])
    assert m >= MIN_MARGIN_STORIES, f"stories260k: BOS-only prompt has margin {m}"
    seeds = []
    for k, n in enumerate(STORIES_PROMPT_LENS[1:], start=1):
        for s in range(STORIES_PROMPT_SEED + 100 * k, STORIES_PROMPT_SEED + 100 * k + MAX_SEED_TRIES):
            p = random_prompts(s, [n], V, bos=1)[0]
            _, _, m = greedy_one(model, p)
            if m >= MIN_MARGIN_STORIES:
                break
            print(f"  prompt {k} seed {s}: margin {m:.3g} < {MIN_MARGIN_STORIES}, next seed")
        else:
            raise SystemExit(f"stories260k: no prompt seed for prompt {k} reached margin {MIN_MARGIN_STORIES}")
        prompts.append(p)
        seeds.append(s)
    res = evaluate(model, prompts)
    write_case(out_dir, "stories260k", "shared/stories260K", model, prompts, res, None,
               ",".join(str(s) for s in seeds), model.config.eos_token_id, strict)


def generate_all(out_dir, strict):
    os.makedirs(out_dir, exist_ok=True)
    for c in RANDOM_CASES:
        random_case(c, out_dir, strict)
    stories_case(out_dir, strict)


def outputs(base):
    names = [f"generate_{c['case']}.bin" for c in RANDOM_CASES] + ["generate_stories260k.bin"]
    for c in RANDOM_CASES:
        names += [os.path.join("generate", c["case"], f) for f in ("config.json", "model.safetensors")]
    return [n for n in names if os.path.exists(os.path.join(base, n))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "golden"), help="output directory")
    ap.add_argument("--check", action="store_true",
                    help="fail unless batched == batch-1 tokens and forward == first-step logits for every prompt")
    ap.add_argument("--verify", action="store_true",
                    help="write nothing; regenerate in a temporary folder and compare bytes with --out")
    args = ap.parse_args()
    torch.set_num_threads(1)  # deterministic reduction order
    torch.use_deterministic_algorithms(True)
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, python {platform.python_version()}")
    if not args.verify:
        generate_all(args.out, args.check)
        total = 0
        for n in outputs(args.out):
            size = os.path.getsize(os.path.join(args.out, n))
            total += size
            print(f"  {size:8d}  {n}")
        print(f"total {total} bytes")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        generate_all(tmp, args.check)
        fresh, committed = outputs(tmp), outputs(args.out)
        bad = sorted(set(fresh) ^ set(committed))
        bad += [n for n in fresh if n in committed and
                not filecmp.cmp(os.path.join(tmp, n), os.path.join(args.out, n), shallow=False)]
        for n in fresh:
            print(f"  {'DIFFERS' if n in bad else 'same   '}  {n}")
        if bad:
            print(f"verify FAILED: {len(bad)} file(s) differ or are missing: {bad}")
            return 1
        print(f"verify OK: {len(fresh)} files byte-identical")
    return 0


if __name__ == "__main__":
    sys.exit(main())
