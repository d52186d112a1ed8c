// Built-in model shapes: tiny ones for tests and demos, real LLaMA shapes for planning and init-model.
// Looked up by name wherever a config.json path is accepted (`strata init-model --config llama2-7b`).
#pragma once
#include <string>
#include <vector>

#include "model/hf_config.h"

namespace strata {

struct ModelPreset {
  std::string name;
  std::string description;
  HfModelInfo info;
};

const std::vector<ModelPreset>& model_presets();
const ModelPreset* find_preset(const std::string& name);  // null when unknown
// A preset name or a config.json path (a folder means its config.json); errors list the presets.
HfModelInfo resolve_model_config(const std::string& preset_or_path);

}  // namespace strata
