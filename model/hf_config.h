// Hugging Face config.json for LLaMA/Mistral-style models: reading (with validation that names the key) and
// writing. Features Strata does not implement (rope_scaling, attention bias, sliding window) are errors, not ignored.
#pragma once
#include <string>

#include "model/model_config.h"
#include "model/param_layout.h"

namespace strata {

struct HfModelInfo {
  ModelConfig config;
  float initializer_range = 0.02f;  // std of the normal init (HF LlamaConfig default)
  int bos_token_id = 1;
  int eos_token_id = 2;
};

// Parses config.json text; `origin` (the file path) prefixes every error, which names the key.
HfModelInfo parse_hf_config(const std::string& json_text, const std::string& origin);
HfModelInfo read_hf_config(const std::string& path);
// config.json text for a LlamaForCausalLM with this shape; torch_dtype from `dtype`.
std::string hf_config_json(const HfModelInfo& info, DType dtype);

}  // namespace strata
