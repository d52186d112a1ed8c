#!/usr/bin/env python3
"""Generate LLaMA parity goldens from Hugging Face transformers' LlamaForCausalLM (CPU, float32, eager attention).

Run:   python tools/make_llama_goldens.py   (a venv with torch + transformers, see README)
       [--out tests/golden] [--check] [--compute-dtype float32|float64]
Reads nothing from the network or the hub: every model is built from a LlamaConfig and seeded random weights.
Output is deterministic for a given torch version (one CPU thread, fixed seeds).

Each golden holds, for one small model and one batch: the config, input_ids, HF labels (UNshifted: HF shifts them
inside the loss), every weight under its HF name, the logits, the loss and the gradient of every parameter.
tests/test_llama_parity.cpp reads them (through tests/support/golden_file.h) and checks the C++ model against them.

File format, version 1 (all integers little-endian; the reader is tests/support/golden_file.cpp):

    offset 0   magic      8 bytes   b"STRGOLD\\0"
               version    u32       1
               n_meta     u32       number of metadata entries
               n_meta x { key_len u32, key bytes (UTF-8), val_len u32, val bytes (UTF-8) }
                          values are strings; numbers are written with Python repr() (round-trips exactly),
                          booleans as "true"/"false"
               n_tensors  u32
               n_tensors x { name_len u32, name bytes (UTF-8),
                             dtype u32 (0 = float32, 1 = int32),
                             ndim u32, shape i64[ndim]  (ndim 0 = scalar, one element),
                             data (prod(shape) elements of dtype, row-major, little-endian) }
               end of file (no trailing bytes)

Metadata keys: format, case, dim, n_layers, n_heads, n_kv_heads, head_dim, ffn_dim, vocab, rope_theta, norm_eps,
tie_embeddings, max_seq_len, B, T, seed, torch_version, transformers_version, python_version, ignore_index,
compute_dtype (float32 for the committed goldens).

Tensors:
    input_ids               int32 [B,T]
    labels                  int32 [B,T]   HF labels, unshifted; -100 = ignored. labels[b,0] is never used by HF.
    <HF weight name>        f32   e.g. model.embed_tokens.weight, model.layers.{i}.self_attn.q_proj.weight, ...,
                                  model.norm.weight, lm_head.weight (absent when embeddings are tied)
    logits                  f32   [B,T,V]
    loss                    f32   scalar: mean cross entropy over non-ignored shifted labels
    grad.<HF weight name>   f32   d loss / d weight (tied: the embedding's grad includes the head's contribution)
"""

import argparse
import math
import os
import platform
import struct
import sys

import numpy as np
import torch
import transformers
from transformers import LlamaConfig, LlamaForCausalLM

MAGIC = b"STRGOLD\0"
VERSION = 1
DTYPE_F32, DTYPE_I32 = 0, 1
IGNORE = -100

# name, config, batch, label masking. Label masks: list of (row, start, stop) spans set to -100 in the HF labels.
CASES = [
    dict(file="llama_tiny.bin", dim=64, n_layers=3, n_heads=4, n_kv_heads=2, ffn_dim=160, vocab=97,
         rope_theta=10000.0, norm_eps=1e-5, tie=False, max_seq_len=64, B=2, T=16, seed=1234,
         # prompt masking at the start of row 0, holes in the middle of both rows, the last label of row 1
         ignore=[(0, 0, 4), (0, 9, 11), (1, 6, 7), (1, 12, 13), (1, 15, 16)],
         embed_std=0.5, linear_std=0.15, head_std=0.2),
    dict(file="llama_tiny_tied.bin", dim=48, n_layers=2, n_heads=6, n_kv_heads=3, ffn_dim=128, vocab=61,
         rope_theta=500000.0, norm_eps=1e-6, tie=True, max_seq_len=32, B=3, T=12, seed=4321,
         # row 1 fully ignored; middle holes in rows 0 and 2
         ignore=[(1, 0, 12), (0, 3, 5), (2, 0, 2), (2, 7, 8)],
         embed_std=0.3, linear_std=0.15, head_std=None),
    dict(file="llama_tiny_mha.bin", dim=32, n_layers=2, n_heads=4, n_kv_heads=4, ffn_dim=96, vocab=53,
         rope_theta=10000.0, norm_eps=1e-5, tie=False, max_seq_len=16, B=2, T=9, seed=777,
         ignore=[(0, 5, 6), (1, 1, 3)],
         embed_std=0.5, linear_std=0.2, head_std=0.2),
]


def build_model(c, dtype):
    cfg = LlamaConfig(
        vocab_size=c["vocab"], hidden_size=c["dim"], intermediate_size=c["ffn_dim"],
        num_hidden_layers=c["n_layers"], num_attention_heads=c["n_heads"], num_key_value_heads=c["n_kv_heads"],
        hidden_act="silu", max_position_embeddings=c["max_seq_len"], rms_norm_eps=c["norm_eps"],
        tie_word_embeddings=c["tie"], rope_parameters={"rope_type": "default", "rope_theta": c["rope_theta"]},
        attention_bias=False, mlp_bias=False, attention_dropout=0.0, pad_token_id=None, bos_token_id=None,
        eos_token_id=None)
    cfg._attn_implementation = "eager"
    torch.manual_seed(c["seed"])
    model = LlamaForCausalLM(cfg).to(dtype)
    model.eval()
    assert model.config._attn_implementation == "eager", model.config._attn_implementation
    assert model.model.rotary_emb.rope_type == "default"
    tied = model.lm_head.weight is model.model.embed_tokens.weight
    assert tied == c["tie"], f"tie_word_embeddings={c['tie']} but lm_head shares the embedding: {tied}"
    # Larger-than-default init so gradients are far from zero and norm weights are not all ones. Values are
    # rounded to float32 (the stored dtype) whatever the compute dtype, so a float64 run uses the stored weights.
    g = torch.Generator().manual_seed(c["seed"] + 1)
    with torch.no_grad():
        for name, p in model.named_parameters():  # tied: the shared matrix appears once (as the embedding)
            r = torch.randn(p.shape, generator=g, dtype=torch.float64)
            if name.endswith("norm.weight") or "layernorm" in name:
                v = 1.0 + 0.1 * r
            elif name == "model.embed_tokens.weight":
                v = c["embed_std"] * r
            elif name == "lm_head.weight":
                v = c["head_std"] * r
            else:
                v = c["linear_std"] * r
            p.copy_(v.to(torch.float32))
    return model


def make_batch(c):
    g = torch.Generator().manual_seed(c["seed"] + 2)
    B, T, V = c["B"], c["T"], c["vocab"]
    input_ids = torch.randint(0, V, (B, T), generator=g)
    labels = input_ids.clone()  # the usual causal-LM labels ...
    swap = torch.rand((B, T), generator=g) < 0.25  # ... with some replaced so labels are not input_ids
    labels[swap] = torch.randint(0, V, (B, T), generator=g)[swap]
    for row, start, stop in c["ignore"]:
        labels[row, start:stop] = IGNORE
    return input_ids, labels


def run(model, input_ids, labels):
    model.zero_grad(set_to_none=True)
    out = model(input_ids=input_ids, labels=labels)
    out.loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters()}
    return out.logits.detach().clone(), out.loss.detach().clone(), grads


def manual_loss(logits, labels):
    """Mean CE over non-ignored targets with targets[b,t] = labels[b,t+1] (last position ignored)."""
    B, T, V = logits.shape
    targets = torch.full_like(labels, IGNORE)
    targets[:, :-1] = labels[:, 1:]
    lp = torch.log_softmax(logits.double(), dim=-1).reshape(B * T, V)
    t = targets.reshape(-1)
    keep = t != IGNORE
    return -(lp[keep, t[keep]]).mean()


def rel_l2(a, b):
    a, b = a.double(), b.double()
    den = b.norm().item()
    return (a - b).norm().item() / den if den > 0 else (a - b).norm().item()


def write_golden(path, meta, tensors):
    with open(path, "wb") as f:
        f.write(MAGIC)
        f.write(struct.pack("<I", VERSION))
        f.write(struct.pack("<I", len(meta)))
        for k, v in meta.items():
            kb, vb = k.encode(), str(v).encode()
            f.write(struct.pack("<I", len(kb)) + kb + struct.pack("<I", len(vb)) + vb)
        f.write(struct.pack("<I", len(tensors)))
        for name, t in tensors:
            t = t.detach().cpu()
            if t.dtype in (torch.int32, torch.int64):
                arr, code = t.numpy().astype("<i4"), DTYPE_I32
            else:
                arr, code = t.numpy().astype("<f4"), DTYPE_F32
            nb = name.encode()
            f.write(struct.pack("<I", len(nb)) + nb)
            f.write(struct.pack("<II", code, arr.ndim))
            f.write(struct.pack(f"<{arr.ndim}q", *arr.shape))
            f.write(np.ascontiguousarray(arr).tobytes())


def make_case(c, out_dir, strict, compute_dtype):
    other_dtype = torch.float64 if compute_dtype == torch.float32 else torch.float32
    model = build_model(c, compute_dtype)
    input_ids, labels = make_batch(c)
    logits, loss, grads = run(model, input_ids, labels)

    # Semantics check 1: HF's loss is the mean CE over shifted, non-ignored labels.
    ml = manual_loss(logits, labels).item()
    assert abs(ml - loss.item()) <= 1e-5 * abs(ml), f"HF loss {loss.item()} != manual shifted CE {ml}"
    # Semantics check 2: a fully ignored row contributes nothing (the batch has valid targets elsewhere).
    n_valid = int((labels[:, 1:] != IGNORE).sum())
    assert n_valid > 0

    # Noise floor of a float32 computation: the same model in float32 and in float64.
    m2 = build_model(c, other_dtype)
    l2, loss2, g2 = run(m2, input_ids, labels)
    floor = {"logits": rel_l2(logits, l2), "loss": abs(loss.item() - loss2.item()) / abs(loss2.item())}
    floor["grads"] = max(rel_l2(grads[n], g2[n]) for n in grads)
    worst_grad = max(grads, key=lambda n: rel_l2(grads[n], g2[n]))
    print(f"  fp32-vs-fp64 noise floor: logits rel_l2={floor['logits']:.2e} loss rel={floor['loss']:.2e} "
          f"grads worst rel_l2={floor['grads']:.2e} ({worst_grad})")
    if strict:
        assert max(floor.values()) < 1e-5, "float32 and float64 disagree by more than 1e-5"

    cfg = model.config
    meta = {
        "format": "strata llama golden",
        "case": os.path.splitext(c["file"])[0],
        "dim": cfg.hidden_size, "n_layers": cfg.num_hidden_layers, "n_heads": cfg.num_attention_heads,
        "n_kv_heads": cfg.num_key_value_heads, "head_dim": cfg.head_dim, "ffn_dim": cfg.intermediate_size,
        "vocab": cfg.vocab_size, "rope_theta": repr(float(c["rope_theta"])), "norm_eps": repr(float(c["norm_eps"])),
        "tie_embeddings": "true" if c["tie"] else "false", "max_seq_len": cfg.max_position_embeddings,
        "B": c["B"], "T": c["T"], "seed": c["seed"], "ignore_index": IGNORE,
        "torch_version": torch.__version__, "transformers_version": transformers.__version__,
        "python_version": platform.python_version(), "compute_dtype": str(compute_dtype).replace("torch.", ""),
    }
    tensors = [("input_ids", input_ids.to(torch.int32)), ("labels", labels.to(torch.int32))]
    params = list(model.named_parameters())
    tensors += [(n, p) for n, p in params]
    tensors += [("logits", logits), ("loss", loss.reshape(()))]
    tensors += [("grad." + n, grads[n]) for n, _ in params]
    path = os.path.join(out_dir, c["file"])
    write_golden(path, meta, tensors)
    gnorm = math.sqrt(sum(float(g.double().pow(2).sum()) for g in grads.values()))
    print(f"  wrote {path}: {os.path.getsize(path)} bytes, {len(tensors)} tensors, loss={loss.item():.6f}, "
          f"valid targets={n_valid}/{c['B'] * c['T']}, grad norm={gnorm:.4f}")
    return os.path.getsize(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "tests", "golden"), help="output directory")
    ap.add_argument("--check", action="store_true", help="fail if a golden's fp32 noise floor exceeds 1e-5")
    ap.add_argument("--compute-dtype", choices=["float32", "float64"], default="float32",
                    help="dtype of the PyTorch computation (tensors are always stored as float32); float64 gives "
                         "a reference free of PyTorch's own float32 rounding, for studying the error floor")
    args = ap.parse_args()
    compute_dtype = getattr(torch, args.compute_dtype)
    torch.set_num_threads(1)  # deterministic reduction order
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, python {platform.python_version()}")
    os.makedirs(args.out, exist_ok=True)
    total = 0
    for c in CASES:
        print(c["file"])
        total += make_case(c, args.out, args.check, compute_dtype)
    print(f"total {total} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
