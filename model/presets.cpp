// The preset table. Real shapes follow the published HF config.json of each model.
#include "model/presets.h"

#include "core/check.h"

namespace strata {

static ModelPreset make(const char* name, const char* desc, int dim, int layers, int heads, int kv, int ffn, int vocab,
                        float theta, float eps, bool tied, int max_seq) {
  ModelPreset p{name, desc, {}};
  ModelConfig& c = p.info.config;
  c.dim = dim, c.n_layers = layers, c.n_heads = heads, c.n_kv_heads = kv, c.ffn_dim = ffn, c.vocab = vocab;
  c.rope_theta = theta, c.norm_eps = eps, c.tie_embeddings = tied, c.max_seq_len = max_seq;
  return p;
}

const std::vector<ModelPreset>& model_presets() {
  static const std::vector<ModelPreset> presets = {
      make("tiny", "the demo model: 4 blocks, dim 128, GQA 8/4", 128, 4, 8, 4, 344, 512, 10000.0f, 1e-5f, false, 512),
      make("tiny-tied", "stories260K's shape: 5 blocks, dim 64, GQA 8/4, tied embeddings", 64, 5, 8, 4, 172, 512,
           10000.0f, 1e-5f, true, 512),
      make("small", "the bench model: 8 blocks, dim 512, GQA 8/4, vocab 4096", 512, 8, 8, 4, 1376, 4096, 10000.0f,
           1e-5f, false, 2048),
      make("llama2-7b", "LLaMA-2 7B", 4096, 32, 32, 32, 11008, 32000, 10000.0f, 1e-5f, false, 4096),
      make("llama2-13b", "LLaMA-2 13B", 5120, 40, 40, 40, 13824, 32000, 10000.0f, 1e-5f, false, 4096),
      make("llama3-8b", "LLaMA-3 8B", 4096, 32, 32, 8, 14336, 128256, 500000.0f, 1e-5f, false, 8192),
      make("llama-65b", "LLaMA-1 65B", 8192, 80, 64, 64, 22016, 32000, 10000.0f, 1e-6f, false, 2048),
      make("llama2-70b", "LLaMA-2 70B", 8192, 80, 64, 8, 28672, 32000, 10000.0f, 1e-5f, false, 4096),
      make("llama3-70b", "LLaMA-3 70B", 8192, 80, 64, 8, 28672, 128256, 500000.0f, 1e-5f, false, 8192),
  };
  return presets;
}

const ModelPreset* find_preset(const std::string& name) {
  for (const auto& p : model_presets())
    if (p.name == name) return &p;
  return nullptr;
}

}  // namespace strata
