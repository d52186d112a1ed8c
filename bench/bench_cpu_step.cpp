// Benchmark: forward+backward of a small LLaMA on the CPU backend: tokens/s and achieved GFLOP/s, printed next to
// OpenBLAS sgemm GFLOP/s measured in the same run (the machine's practical ceiling).
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "bench/fill_values.h"
#include "bench/op_breakdown.h"
#include "core/rng.h"
#include "model/llama_model.h"
#include "model/param_init.h"

using namespace strata;
using Clock = std::chrono::steady_clock;

static double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Best-of-reps sgemm GFLOP/s at M=N=K=n.
static double sgemm_gflops(int n, int reps) {
  std::vector<float> a((size_t)n * n, 0.5f), b((size_t)n * n, 0.25f), c((size_t)n * n, 0.0f);
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = Clock::now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    best = std::min(best, seconds_since(t0));
  }
  return 2.0 * n * n * (double)n / best / 1e9;
}

// Training FLOPs of one forward+backward: 6 * matmul params * tokens + attention (12 * L * T^2/2 * C per seq).
static double step_flops(const ModelConfig& c, int B, int T) {
  const double C = c.dim, F = c.ffn_dim, V = c.vocab, Q = c.q_dim(), KV = c.kv_dim();
  const double matmul_params = c.n_layers * (C * Q + 2 * C * KV + Q * C + 3 * C * F) + V * C;
  const double attn = c.n_layers * 4.0 * Q * (double)T * (T + 1) / 2.0;  // QK^T and PV, fwd; x3 for fwd+bwd
  return B * (6.0 * matmul_params * T + 3.0 * attn);
}

int main(int argc, char** argv) {
  // Presets (the same in bench/pytorch_cpu_step.py):
  //   small: 8 blocks, dim 512, GQA 8/4, ffn 1376, vocab 4096, batch 4 x 256 (GEMM-bound)
  //   tiny:  the `strata demo` model: 4 blocks, dim 128, GQA 8/4, ffn 344, vocab 512, batch 4 x 64
  //   7b-block: one LLaMA-2-7B block (dim 4096, 32 heads, ffn 11008) with its 32000-token embedding and head, 1 x 256
  std::string preset = "small";
  int B = 4, T = 256, steps = 5;
  bool ckpt = false, batch_set = false, seq_set = false, ops = false;
  Precision precision = Precision::F32;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--steps" && i + 1 < argc) steps = std::atoi(argv[++i]);
    else if (a == "--batch" && i + 1 < argc) B = std::atoi(argv[++i]), batch_set = true;
    else if (a == "--seq-len" && i + 1 < argc) T = std::atoi(argv[++i]), seq_set = true;
    else if (a == "--preset" && i + 1 < argc) preset = argv[++i];
    else if (a == "--checkpointing") ckpt = true;
    else if (a == "--ops") ops = true;
    else if (a == "--precision" && i + 1 < argc) {
      try {
        precision = parse_enum<Precision>(argv[++i], "--precision");
      } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_cpu_step: %s\n", e.what());
        return 2;
      }
    } else {
      std::fprintf(stderr,
                   "usage: bench_cpu_step [--preset small|tiny|7b-block] [--steps N] [--batch B] [--seq-len T] "
                   "[--checkpointing] [--precision fp32|bf16] [--ops]\n"
                   "  --ops: also time each backend call of one block's bf16 step alone (the per-op table)\n");
      return 2;
    }
  }
  ModelConfig cfg;
  if (preset == "small") {
    cfg.dim = 512, cfg.n_layers = 8, cfg.n_heads = 8, cfg.n_kv_heads = 4, cfg.ffn_dim = 1376, cfg.vocab = 4096;
  } else if (preset == "tiny") {
    cfg.dim = 128, cfg.n_layers = 4, cfg.n_heads = 8, cfg.n_kv_heads = 4, cfg.ffn_dim = 344, cfg.vocab = 512;
    if (!seq_set) T = 64;
  } else if (preset == "7b-block") {  // one LLaMA-2-7B block with its embedding and head, one sequence
    cfg.dim = 4096, cfg.n_layers = 1, cfg.n_heads = 32, cfg.n_kv_heads = 32, cfg.ffn_dim = 11008, cfg.vocab = 32000;
    if (!batch_set) B = 1;
  } else {
    std::fprintf(stderr, "bench_cpu_step: unknown --preset '%s' (choose small, tiny or 7b-block)\n", preset.c_str());
    return 2;
  }
  if (steps < 1 || B < 1 || T < 2) {
    std::fprintf(stderr, "bench_cpu_step: --steps, --batch must be >= 1 and --seq-len >= 2\n");
    return 2;
  }
  cfg.max_seq_len = T;
  CpuBackend be;
  ModelOptions mo;
  mo.checkpointing = ckpt;
  mo.precision = precision;
  LlamaModel model(be, cfg, mo);
  init_params_normal(model.params(), be, 42);
  const int N = B * T;
  std::vector<int32_t> tokens(N), targets(N);
  Rng rng(7);
  for (auto& t : tokens) t = (int32_t)rng.below(cfg.vocab);
  for (int i = 0; i < N; ++i) targets[i] = (i + 1) % T ? tokens[i + 1] : kIgnoreIndex;

  const double peak = sgemm_gflops(1024, 5);
  // warm-up (allocates activations)
  model.zero_grads();
  model.forward(tokens.data(), targets.data(), B, T);
  model.backward();
  std::vector<double> times;
  for (int s = 0; s < steps; ++s) {
    const auto t0 = Clock::now();  // zeroing the gradients counts, as in pytorch_cpu_step.py's step
    model.zero_grads();
    model.forward(tokens.data(), targets.data(), B, T);
    model.backward();
    times.push_back(seconds_since(t0));
  }
  std::sort(times.begin(), times.end());
  const double med = times[times.size() / 2];
  const double gflops = step_flops(cfg, B, T) / med / 1e9;
  std::printf("bench_cpu_step (%s): model %s, %.1fM params, batch %d x %d, checkpointing %s, %s\n", preset.c_str(),
              cfg.describe().c_str(), cfg.num_parameters() / 1e6, B, T, ckpt ? "on" : "off", to_string(precision));
  std::printf("  fwd+bwd median %.3f s over %d steps  ->  %.0f tokens/s\n", med, steps, N / med);
  std::printf("  achieved %.1f GFLOP/s  |  OpenBLAS sgemm 1024^3: %.1f GFLOP/s  |  ratio %.2f\n", gflops, peak,
              gflops / peak);
  std::printf("  memory: %s", be.memory().summary().c_str());
  if (ops) {  // one block of this preset on the bf16 engine, each distinct backend call timed alone
    ModelConfig one = cfg;
    one.n_layers = 1;
    const bench::OpBreakdown r = bench::block_op_breakdown("cpu", one, B, T, bench::fill_values);
    std::printf("  per-op breakdown of one block's bf16 forward+backward (B=%d, T=%d), cpu:\n", B, T);
    bench::print_op_breakdown(r, r.replay_ms);
  }
  return 0;
}
