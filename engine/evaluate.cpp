// evaluate_model: `strata eval`: loss and perplexity of any model path on every window of a dataset (token-weighted).
#include <cmath>
#include <filesystem>
#include <vector>

#include "backend/backend_registry.h"
#include "engine/base_weights.h"
#include "core/check.h"
#include "data/training_data.h"
#include "engine/trainer.h"
#include "model/llama_model.h"

namespace strata {

EvalResult evaluate_model(const EvalOptions& o) {
  auto backend = make_backend(o.backend);
  const auto loaded = load_any_model(o.model, *backend);
  const ModelConfig& cfg = loaded->info.config;
  STRATA_USER_CHECK(o.data.seq_len <= cfg.max_seq_len, "--seq-len " + std::to_string(o.data.seq_len) +
                                                           " exceeds the model's max_position_embeddings " +
                                                           std::to_string(cfg.max_seq_len));
  DataSection d = o.data;
  d.eval.clear();
  d.eval_fraction = 0.0;
  // data.tokenizer = "model": the tokenizer in the evaluated folder (an HF folder) or in the run's base model folder.
  std::string model_dir = o.model;
  if (!std::filesystem::exists(std::filesystem::path(o.model) / "config.json")) model_dir = loaded->base_path;
  const TrainingData data = load_training_data(d, o.micro_batch, cfg.vocab, model_dir);
  LlamaModel model(*backend, cfg, {});
  model.set_all_trainable(false);
  for (BlobId blob : model.ids().all())
    if (model.params().has(blob))
      backend->copy(model.params().blob(blob), loaded->params->blob(blob), model.params().blob_bytes(blob));
  DataLoader loader(data.train_set, data.train_windows, o.micro_batch, 0, false);
  const int B = o.micro_batch, T = d.seq_len;
  size_t batches = loader.num_windows() / B;
  if (o.max_batches) batches = std::min(batches, o.max_batches);
  STRATA_USER_CHECK(batches > 0, "the dataset has fewer windows than one micro-batch of " + std::to_string(B));
  std::vector<int32_t> tokens((size_t)B * T), targets((size_t)B * T);
  EvalResult r;
  double sum = 0;
  for (size_t i = 0; i < batches; ++i) {
    loader.next_batch(tokens.data(), targets.data());
    const double l = model.forward(tokens.data(), targets.data(), B, T);
    sum += l * model.valid_targets();
    r.tokens += model.valid_targets();
  }
  r.batches = batches;
  r.loss = r.tokens ? sum / r.tokens : 0.0;
  r.perplexity = std::exp(r.loss);
  r.model_description = loaded->description;
  return r;
}

}  // namespace strata
