#!/usr/bin/env python3
"""Goldens for the model-file tests (tests/test_hf_model_files.cpp): what transformers computes on folders that
Strata wrote or that were published, so the C++ tests can check both directions without torch at run time.

Run from the repository root after building (needs build/strata):
    python tools/make_model_file_goldens.py      (a venv with torch + transformers, see README)

Writes, in the golden format of tools/make_llama_goldens.py (read by tests/support/golden_file.h):
  tests/golden/stories260k_logits.bin  transformers' logits of ../shared/data/stories260K on seeded token ids
  tests/golden/export_f32_logits.bin   `strata init-model --config tiny-tied --seed 7` exported as sharded F32
                                       by `strata export --max-shard-size 1MB`, loaded by
                                       LlamaForCausalLM.from_pretrained: logits on seeded ids
  tests/golden/export_bf16_logits.bin  the same model exported as BF16 (one file), loaded in float32
Every case also records the config and ids; the exported folders themselves are not committed (the test
regenerates them bit for bit from the seed).
"""
import os
import subprocess
import sys
import tempfile

import torch
import transformers
from transformers import LlamaForCausalLM

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_llama_goldens import write_golden  # noqa: E402  (same golden format)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STRATA = os.path.join(ROOT, "build", "strata")
STORIES = os.path.join(ROOT, "..", "shared", "data", "stories260K")


def logits_of(folder, ids):
    model = LlamaForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager",
                                             local_files_only=True)
    model.eval()
    with torch.no_grad():
        return model(input_ids=ids).logits


def seeded_ids(seed, B, T, vocab):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab, (B, T), generator=g, dtype=torch.int64)


def meta(**kw):
    base = {"format": "strata-golden", "torch_version": torch.__version__,
            "transformers_version": transformers.__version__}
    base.update(kw)
    return base


def strata(*args):
    subprocess.run([STRATA, *args], check=True, stdout=subprocess.DEVNULL)


def main():
    torch.set_num_threads(1)
    out_dir = os.path.join(ROOT, "tests", "golden")
    os.environ["HF_HUB_OFFLINE"] = "1"

    ids = seeded_ids(260, 2, 32, 512)
    logits = logits_of(STORIES, ids)
    write_golden(os.path.join(out_dir, "stories260k_logits.bin"),
                 meta(case="stories260k", B=2, T=32), [("input_ids", ids.int()), ("logits", logits)])
    print("stories260k: logits", tuple(logits.shape))

    with tempfile.TemporaryDirectory() as tmp:
        init = os.path.join(tmp, "init")
        strata("init-model", "--config", "tiny-tied", "--seed", "7", "--out", init)
        ids = seeded_ids(7, 2, 24, 512)
        for case, args in (("export_f32", ["--dtype", "f32", "--max-shard-size", "1MB"]),
                           ("export_bf16", ["--dtype", "bf16"])):
            folder = os.path.join(tmp, case)
            strata("export", init, "--out", folder, *args)
            files = sorted(os.listdir(folder))
            logits = logits_of(folder, ids)
            write_golden(os.path.join(out_dir, f"{case}_logits.bin"),
                         meta(case=case, preset="tiny-tied", seed=7, export_args=" ".join(args),
                              files=",".join(files), B=2, T=24),
                         [("input_ids", ids.int()), ("logits", logits)])
            print(f"{case}: {files} logits {tuple(logits.shape)}")


if __name__ == "__main__":
    main()
