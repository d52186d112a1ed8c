// ModelInfo: a model's shape plus what its HF config.json says beyond the shape (init range, special token ids).
// Presets produce it; formats/hf_config reads and writes it.
#pragma once
#include "model/model_config.h"

namespace strata {

struct ModelInfo {
  ModelConfig config;
  float initializer_range = 0.02f;  // std of the normal init (HF LlamaConfig default)
  int bos_token_id = 1;
  int eos_token_id = 2;
};

}  // namespace strata
