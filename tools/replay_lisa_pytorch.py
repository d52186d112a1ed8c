#!/usr/bin/env python3
"""Replay a Strata training run in PyTorch and check its per-step loss (and gradient norm) against Strata's.

Run:   python tools/replay_lisa_pytorch.py RUN_DIR [--out GOLDEN] [--strata build/strata] [--tol 1e-4]
       python tools/replay_lisa_pytorch.py CONFIG.toml [--out GOLDEN]   (trains CONFIG into a temporary run folder
                                                                          with `strata train` first, then replays it)
Regenerate the committed goldens (tests/test_train_replay.cpp reads them):
       python tools/replay_lisa_pytorch.py tests/configs/replay_lisa.toml --out tests/golden/replay_lisa.bin
       python tools/replay_lisa_pytorch.py tests/configs/replay_lisa_keep.toml --out tests/golden/replay_lisa_keep.bin

RUN_DIR is a finished `strata train` run with `[output] save_batches = true`. The script reads
    RUN_DIR/config.toml     the resolved run config
    RUN_DIR/metrics.jsonl   per step: "loss", "grad_norm", "lr", "active_layers" (eval lines are ignored)
    RUN_DIR/batches.bin     the exact token ids and shifted targets (-100 = ignored) of every micro-batch
and replays the run with transformers' LlamaForCausalLM (float32, eager attention, CPU, one thread):
  - initial weights: `strata init-model --config <preset> --seed <init_seed>` (what the trainer initialises),
    or the HF folder in model.path;
  - each step trains the blocks listed in the metrics' active_layers (LISA; mode "full" lists every block) plus the
    embedding, final norm and LM head as the [lisa] train_* switches say (all of them in full mode);
  - per micro-batch: mean F.cross_entropy(ignore_index=-100) of the logits against the given shifted targets,
    backward of loss / grad_accum; the step's loss is the mean of the micro-batch losses;
  - torch.nn.utils.clip_grad_norm_ over the trainable parameters (train.grad_clip; 0 = no clipping, norm only);
  - torch.optim.AdamW (betas, eps from the config), weight decay only for parameters with >= 2 dims, the learning
    rate of every step from the same schedule as optim/lr_schedule.cpp;
  - lisa.optimizer_state = "reset": the AdamW state of a block that is deactivated at a re-sampling is deleted (its
    step count restarts on re-activation); "keep": the state stays (frozen parameters have no .grad, so AdamW skips
    them, which is the parking Strata does).
It prints a per-step table and exits with status 1 if any step's loss differs from Strata's by more than --tol
(relative). With --out it writes a golden file (format of tools/make_llama_goldens.py, write_golden) holding:
    metadata  format, case, config (the run's config.toml text), config_file, steps, n_layers, grad_accum,
              micro_batch, seq_len, tolerance, max_rel_loss_diff, max_rel_grad_norm_diff, torch/transformers/python
              versions
    loss            f32 [steps]           PyTorch per-step loss (mean of the micro-batch losses)
    grad_norm       f32 [steps]           PyTorch global gradient L2 norm before clipping
    lr              f32 [steps]           learning rate of each step
    active_layers   i32 [steps, gamma]    the active-block schedule (sorted block indices)
    strata_loss     f32 [steps]           Strata's losses from metrics.jsonl (for reference)
"""

import argparse
import json
import math
import os
import platform
import shutil
import struct
import subprocess
import sys
import tempfile
import tomllib

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from make_llama_goldens import write_golden  # noqa: E402

IGNORE = -100


def lr_at(step, t):
    """optim/lr_schedule.cpp LrSchedule::at (0-based step)."""
    lr, warmup, total = t["lr"], t["warmup_steps"], t["steps"]
    if step < warmup:
        return lr * (step + 1) / warmup
    kind = t["lr_schedule"]
    if kind == "constant":
        return lr
    decay_steps = max(1, total - warmup)
    progress = min(max((step - warmup) / decay_steps, 0.0), 1.0)
    min_lr = lr * t["min_lr_ratio"]
    if kind == "linear":
        return lr - (lr - min_lr) * progress
    if kind == "cosine":
        return min_lr + (lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))
    raise ValueError(f"unknown lr_schedule {kind!r}")


def read_batches(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"STRBATCH":
        raise ValueError(f"{path}: not a batches.bin (magic {data[:8]!r})")
    version, B, T, accum = struct.unpack_from("<4I", data, 8)
    if version != 1:
        raise ValueError(f"{path}: version {version}, expected 1")
    body = np.frombuffer(data, dtype="<i4", offset=24)
    per_step = accum * 2 * B * T
    if body.size % per_step:
        raise ValueError(f"{path}: {body.size} int32 values is not a whole number of steps of {per_step}")
    steps = body.reshape(-1, accum, 2, B, T)
    return B, T, accum, steps


def read_metrics(path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            j = json.loads(line)
            if "loss" not in j:  # eval lines
                continue
            rows.append(j)
    for i, r in enumerate(rows):
        if r["step"] != i + 1:
            raise ValueError(f"{path}: step {r['step']} at line {i + 1}; replays need a fresh (not resumed) run")
    return rows


def initial_model_dir(cfg, strata, tmp):
    from transformers import LlamaForCausalLM
    m = cfg["model"]
    if m.get("preset"):
        out = os.path.join(tmp, "init")
        subprocess.run([strata, "init-model", "--config", m["preset"], "--seed", str(m["init_seed"]), "--out", out],
                       check=True, stdout=subprocess.DEVNULL)
    else:
        out = m["path"]
    model = LlamaForCausalLM.from_pretrained(out, dtype=torch.float32, attn_implementation="eager")
    assert model.config._attn_implementation == "eager"
    return model


def train_config(config, strata, tmp):
    """Runs `strata train CONFIG` into tmp/run with save_batches on; returns the run folder."""
    run_dir = os.path.join(tmp, "run")
    subprocess.run([strata, "train", config, "--set", f"output.dir={run_dir}", "--set", "output.save_batches=true"],
                   check=True, stdout=subprocess.DEVNULL)
    return run_dir


def replay(run_dir, strata, tmp):
    with open(os.path.join(run_dir, "config.toml"), "rb") as f:
        config_bytes = f.read()
    cfg = tomllib.loads(config_bytes.decode())
    t, lisa = cfg["train"], cfg["lisa"]
    metrics = read_metrics(os.path.join(run_dir, "metrics.jsonl"))
    B, T, accum, batches = read_batches(os.path.join(run_dir, "batches.bin"))
    assert (B, T, accum) == (t["micro_batch"], cfg["data"]["seq_len"], t["grad_accum"]), "batches.bin header vs config"
    n = len(metrics)
    assert batches.shape[0] >= n, f"batches.bin has {batches.shape[0]} steps, metrics.jsonl {n}"

    model = initial_model_dir(cfg, strata, tmp)
    model.train()
    inner = model.model
    n_layers = len(inner.layers)
    tied = model.lm_head.weight is inner.embed_tokens.weight
    full = t["mode"] == "full"
    train_emb = full or lisa["train_embedding"] or (tied and lisa["train_head"])
    train_head = full or lisa["train_head"]
    train_norm = full or lisa["train_final_norm"]

    always = []  # (params) trained at every step
    if train_emb:
        always.append(inner.embed_tokens.weight)
    if train_head and not tied:
        always.append(model.lm_head.weight)
    if train_norm:
        always.append(inner.norm.weight)
    block_params = [list(inner.layers[i].parameters()) for i in range(n_layers)]

    params = list(model.parameters())  # tied: the shared matrix once
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": t["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=t["lr"], betas=(t["beta1"], t["beta2"]), eps=t["eps"], weight_decay=t["weight_decay"])
    reset = lisa["optimizer_state"] == "reset"
    clip = t["grad_clip"]

    active = []
    rows = []
    for s in range(n):
        m = metrics[s]
        blocks = sorted(m["active_layers"])
        if full:
            assert blocks == list(range(n_layers)), f"step {s + 1}: full mode with active_layers {blocks}"
        if blocks != active:
            for b in active:
                if b not in blocks and reset:
                    for p in block_params[b]:
                        opt.state.pop(p, None)
            active = blocks
        trainable = list(always) + [p for b in active for p in block_params[b]]
        trainable_ids = {id(p) for p in trainable}
        for p in params:
            p.requires_grad_(id(p) in trainable_ids)
        opt.zero_grad(set_to_none=True)

        loss_sum = 0.0
        for a in range(accum):
            tokens = torch.from_numpy(batches[s, a, 0].astype(np.int64))
            targets = torch.from_numpy(batches[s, a, 1].astype(np.int64))
            logits = model(input_ids=tokens).logits
            if (targets != IGNORE).any():
                loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                       ignore_index=IGNORE, reduction="mean")
            else:  # Strata: a fully ignored micro-batch has loss 0 and zero gradients
                loss = logits.sum() * 0.0
            (loss / accum).backward()
            loss_sum += loss.item()
        loss = loss_sum / accum
        norm = float(torch.nn.utils.clip_grad_norm_(trainable, max_norm=clip if clip > 0 else float("inf")))
        lr = lr_at(s, t)
        if abs(lr - m["lr"]) > 1e-12 * max(1.0, abs(lr)):
            raise AssertionError(f"step {s + 1}: Python lr schedule {lr!r} != Strata's {m['lr']!r}")
        skipped = m.get("skipped", False) or m["loss"] is None
        if not skipped:
            for g in opt.param_groups:
                g["lr"] = lr
            opt.step()
        rows.append(dict(step=s + 1, strata_loss=m["loss"], loss=loss, strata_norm=m["grad_norm"], norm=norm, lr=lr,
                         active=active, skipped=skipped, clipped=clip > 0 and norm > clip))
    return cfg, config_bytes.decode(), rows


def rel(a, b):
    if a is None or b is None:
        return float("nan")
    return abs(a - b) / max(abs(b), 1e-30)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run", help="a strata run folder (with batches.bin), or a TOML config to train first")
    ap.add_argument("--out", help="write a golden file here")
    ap.add_argument("--strata", default=os.environ.get("STRATA_BIN", os.path.join(REPO, "build", "strata")),
                    help="the strata executable (default build/strata, or $STRATA_BIN)")
    ap.add_argument("--tol", type=float, default=1e-4, help="max relative loss difference per step")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (1: deterministic)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    import transformers
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, python {platform.python_version()}")

    tmp = tempfile.mkdtemp(prefix="strata_replay_")
    try:
        if args.run.endswith(".toml"):
            run_dir = train_config(args.run, args.strata, tmp)
            config_file = os.path.relpath(os.path.abspath(args.run), REPO)
        else:
            run_dir, config_file = args.run, ""
        cfg, config_text, rows = replay(run_dir, args.strata, tmp)
        if args.run.endswith(".toml"):  # the golden records the config's own output.dir, not the temporary one
            with open(args.run, "rb") as f:
                own_dir = tomllib.load(f).get("output", {}).get("dir", "runs/run")
            config_text = config_text.replace(f'dir = "{run_dir}"', f'dir = {json.dumps(own_dir)}')
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"{'step':>4} {'active':>10} {'lr':>10} {'strata loss':>14} {'torch loss':>14} {'rel diff':>9} "
          f"{'strata gnorm':>13} {'torch gnorm':>13} {'rel diff':>9}")
    worst_loss = worst_norm = 0.0
    bad = []
    for r in rows:
        dl, dn = rel(r["loss"], r["strata_loss"]), rel(r["norm"], r["strata_norm"])
        if not r["skipped"]:
            worst_loss = max(worst_loss, dl)
            worst_norm = max(worst_norm, dn)
            if not dl <= args.tol:
                bad.append(r["step"])
        sl = "skipped" if r["strata_loss"] is None else f"{r['strata_loss']:.8f}"
        sn = "non-finite" if r["strata_norm"] is None else f"{r['strata_norm']:.6f}"
        print(f"{r['step']:>4} {str(r['active']).replace(' ', ''):>10} {r['lr']:>10.3e} {sl:>14} {r['loss']:>14.8f} "
              f"{dl:>9.2e} {sn:>13} {r['norm']:>13.6f} {dn:>9.2e}{'  clipped' if r['clipped'] else ''}")
    print(f"max rel diff: loss {worst_loss:.3e}, grad norm {worst_norm:.3e} (tolerance {args.tol:g} on the loss); "
          f"{sum(r['clipped'] for r in rows)} of {len(rows)} steps clipped")

    if args.out:
        t = cfg["train"]
        meta = {
            "format": "strata train replay golden",
            "case": os.path.splitext(os.path.basename(args.out))[0],
            "config": config_text, "config_file": config_file,
            "steps": len(rows), "grad_accum": t["grad_accum"],
            "micro_batch": t["micro_batch"], "seq_len": cfg["data"]["seq_len"], "tolerance": repr(args.tol),
            "max_rel_loss_diff": repr(worst_loss), "max_rel_grad_norm_diff": repr(worst_norm),
            "torch_version": torch.__version__, "transformers_version": transformers.__version__,
            "python_version": platform.python_version(),
        }
        tensors = [
            ("loss", torch.tensor([r["loss"] for r in rows], dtype=torch.float32)),
            ("grad_norm", torch.tensor([r["norm"] for r in rows], dtype=torch.float32)),
            ("lr", torch.tensor([r["lr"] for r in rows], dtype=torch.float32)),
            ("active_layers", torch.tensor([r["active"] for r in rows], dtype=torch.int32)),
            ("strata_loss", torch.tensor([math.nan if r["strata_loss"] is None else r["strata_loss"] for r in rows],
                                         dtype=torch.float32)),
        ]
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        write_golden(args.out, meta, tensors)
        print(f"wrote {args.out}: {os.path.getsize(args.out)} bytes")
    if bad:
        print(f"FAIL: steps {bad} differ from Strata by more than {args.tol:g} (relative loss)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
