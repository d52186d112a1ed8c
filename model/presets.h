// Built-in model shapes: tiny ones for tests and demos, real LLaMA shapes for planning and init-model.
// Looked up by name wherever a config.json path is accepted (`strata init-model --config llama2-7b`).
#pragma once
#include <string>
#include <vector>

#include "model/model_info.h"

namespace strata {

struct ModelPreset {
  std::string name;
  std::string description;
  ModelInfo info;
};

const std::vector<ModelPreset>& model_presets();
const ModelPreset* find_preset(const std::string& name);  // null when unknown

}  // namespace strata
