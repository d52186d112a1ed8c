// `strata demo` and `strata backends`: the engine end to end on a seeded tiny model and generated tokens.
// Prints the loss (it should be near ln(vocab) for random weights), per-part gradient norms, tokens/s and memory.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <vector>

#include "backend/backend_registry.h"
#include "core/check.h"
#include "cli/commands.h"
#include "core/rng.h"
#include "model/llama_model.h"
#include "formats/hf_model_folder.h"
#include "model/param_init.h"
#include "model/presets.h"

namespace strata {

int run_backends() {
  for (const auto& b : list_backends())
    std::printf("%-8s %s%s\n", b.name.c_str(), b.available ? "available" : "unavailable: ",
                b.available ? "" : b.reason.c_str());
  return 0;
}

static double blob_norm(Backend& be, ParamStore& store, BlobId blob) {
  if (!store.has(blob)) return 0.0;
  std::vector<float> host(store.blob_bytes(blob) / sizeof(float));
  be.copy(host.data(), store.blob(blob), store.blob_bytes(blob));
  double s = 0.0;
  for (float v : host) s += (double)v * v;
  return std::sqrt(s);
}

int run_demo(const DemoArgs& o) {
  auto backend = make_backend(o.backend);
  // The model: an HF folder when --model is given, else the seeded "tiny" preset.
  std::unique_ptr<HfModelFolder> folder;
  ModelConfig cfg = find_preset("tiny")->info.config;
  if (!o.model.empty()) {
    folder = std::make_unique<HfModelFolder>(HfModelFolder::open(o.model));
    cfg = folder->config();
  }
  STRATA_USER_CHECK(o.seq_len <= cfg.max_seq_len, "--seq-len " + std::to_string(o.seq_len) +
                                                 " exceeds the model's max_position_embeddings " +
                                                 std::to_string(cfg.max_seq_len));
  LlamaModel model(*backend, cfg, ModelOptions{o.checkpointing});
  if (folder) folder->load_into(model.params(), *backend);
  else init_params_normal(model.params(), *backend, o.seed, find_preset("tiny")->info.initializer_range);

  const int N = o.batch * o.seq_len;
  std::vector<int32_t> tokens(N), targets(N);
  Rng rng(o.seed + 1);
  for (int i = 0; i < N; ++i) tokens[i] = (int32_t)rng.below(cfg.vocab);
  for (int i = 0; i < N; ++i) targets[i] = (i + 1) % o.seq_len == 0 ? kIgnoreIndex : tokens[i + 1];

  std::printf("strata demo: backend %s, model %s%s (%.2fM params), batch %d x %d tokens%s\n", backend->name().c_str(),
              o.model.empty() ? "tiny preset " : (o.model + " ").c_str(), cfg.describe().c_str(), model.config().num_parameters() / 1e6, o.batch, o.seq_len,
              o.checkpointing ? ", activation checkpointing" : "");
  double total_s = 0.0;
  float loss = 0.0f;
  for (int step = 1; step <= o.steps; ++step) {
    model.zero_grads();
    const auto t0 = std::chrono::steady_clock::now();
    loss = model.forward(tokens.data(), targets.data(), o.batch, o.seq_len);
    model.backward();
    backend->synchronize();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    total_s += s;
    std::printf("pass %d/%d  loss %.4f (ln V = %.4f)  %.0f tokens/s\n", step, o.steps, loss, std::log((double)cfg.vocab),
                N / s);
  }
  const BlobIds ids = model.ids();
  std::printf("gradient norms:");
  for (BlobId b : ids.all()) {
    if (!model.grads().has(b)) continue;
    std::printf(" %s=%.4g", model.grads().blob_name(b).c_str(), blob_norm(*backend, model.grads(), b));
  }
  std::printf("\nmean %.0f tokens/s over %d passes\nmemory:\n%s", N * o.steps / total_s, o.steps,
              backend->memory().summary().c_str());
  return std::isfinite(loss) ? 0 : 1;
}

}  // namespace strata
