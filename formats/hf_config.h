// Hugging Face config.json for LLaMA/Mistral-style models: reading (with validation that names the key) and
// writing. Features Strata does not implement (rope_scaling, attention bias, sliding window) are errors, not ignored.
#pragma once
#include <string>

#include "model/model_info.h"
#include "model/param_layout.h"

namespace strata {

// Parses config.json text; `origin` (the file path) prefixes every error, which names the key.
ModelInfo parse_hf_config(const std::string& json_text, const std::string& origin);
ModelInfo read_hf_config(const std::string& path);
// config.json text for a LlamaForCausalLM with this shape; torch_dtype from `dtype`.
std::string hf_config_json(const ModelInfo& info, DType dtype);
// A preset name or a config.json path (a folder means its config.json); errors list the presets.
ModelInfo resolve_model_config(const std::string& preset_or_path);

}  // namespace strata
