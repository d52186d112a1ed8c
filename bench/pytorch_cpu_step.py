#!/usr/bin/env python3
"""Reference figure for bench_cpu_step: forward+backward tokens/s of Hugging Face LlamaForCausalLM on the CPU,
same config, batch and thread count. Needs torch + transformers (a venv outside the repo; see README).

Usage: python bench/pytorch_cpu_step.py [--preset small|tiny|7b-block] [--steps N] [--batch B] [--seq-len T] [--threads K]
                                       [--precision fp32|bf16]
--precision bf16 runs forward and loss under torch.autocast("cpu", dtype=torch.bfloat16) (fp32 weights), the way a
PyTorch user trains in bf16 on a CPU.
"""
import argparse
import statistics
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="small", choices=["small", "tiny", "7b-block"])
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--seq-len", type=int, default=None)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--attn", default="sdpa", choices=["sdpa", "eager"])
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(42)
    # Same presets as bench_cpu_step.cpp.
    shape = {"small": dict(hidden_size=512, num_hidden_layers=8, num_attention_heads=8, num_key_value_heads=4,
                           intermediate_size=1376, vocab_size=4096),
             "tiny": dict(hidden_size=128, num_hidden_layers=4, num_attention_heads=8, num_key_value_heads=4,
                          intermediate_size=344, vocab_size=512),
             "7b-block": dict(hidden_size=4096, num_hidden_layers=1, num_attention_heads=32, num_key_value_heads=32,
                              intermediate_size=11008, vocab_size=32000)}[a.preset]
    if a.seq_len is None:
        a.seq_len = 64 if a.preset == "tiny" else 256
    if a.batch is None:
        a.batch = 1 if a.preset == "7b-block" else 4
    cfg = LlamaConfig(**shape, max_position_embeddings=a.seq_len,
                      rope_theta=10000.0, rms_norm_eps=1e-5, tie_word_embeddings=False,
                      attn_implementation=a.attn, torch_dtype=torch.float32)
    model = LlamaForCausalLM(cfg).float().train()
    ids = torch.randint(0, cfg.vocab_size, (a.batch, a.seq_len))
    def step():
        model.zero_grad(set_to_none=False)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.precision == "bf16"):
            out = model(input_ids=ids, labels=ids)
        out.loss.backward()
    step()  # warm-up
    times = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    n = a.batch * a.seq_len
    print(f"pytorch_cpu_step ({a.preset}): torch {torch.__version__}, {a.threads} threads, attn={a.attn}, {a.precision}, batch {a.batch} x {a.seq_len}")
    print(f"  fwd+bwd median {med:.3f} s over {a.steps} steps  ->  {n / med:.0f} tokens/s")


if __name__ == "__main__":
    main()
