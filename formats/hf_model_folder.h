// HfModelFolder: a Hugging Face model folder (config.json + model.safetensors, or shards + model.safetensors.index.json)
// opened for reading, and loading its tensors straight into layer-major parameter blobs, one blob at a time.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "formats/hf_config.h"
#include "model/param_store.h"
#include "formats/safetensors.h"

namespace strata {

enum class NonFinitePolicy { Error, Warn, Ignore };
NonFinitePolicy parse_non_finite_policy(const std::string& s, const std::string& what);

struct LoadOptions {
  NonFinitePolicy non_finite = NonFinitePolicy::Error;
  std::function<void(const std::string&)> warn;  // default: one "strata: warning: ..." line on stderr
};

// HF name of tensor `index` of blob `blob` ("model.layers.3.self_attn.q_proj.weight", "model.norm.weight", ...).
std::string hf_tensor_name(const ParamStore& store, BlobId blob, int index);

class HfModelFolder {
 public:
  // Opens `dir`: reads config.json, maps model.safetensors or every shard named by model.safetensors.index.json.
  static HfModelFolder open(const std::string& dir);

  const std::string& dir() const { return dir_; }
  const ModelInfo& info() const { return info_; }
  const ModelConfig& config() const { return info_.config; }
  size_t num_files() const { return files_.size(); }

  struct Located {
    const SafetensorsFile* file = nullptr;
    const SafetensorsTensor* tensor = nullptr;
  };
  Located find(const std::string& name) const;  // file == nullptr when absent

  // Loads every tensor of `params` (F32 blobs, layout from this checkpoint's config): checks shapes, converts
  // BF16/F16 to F32, applies the non-finite policy, copies blob by blob through one host staging buffer.
  // Throws naming the tensor and file on a missing tensor, a shape mismatch, or a tensor the model does not have.
  void load_into(ParamStore& params, Backend& backend, const LoadOptions& opts = {}) const;
  // Loads one blob (allocating it in `params`), with the same checks as load_into.
  void load_blob(ParamStore& params, BlobId blob, Backend& backend, const LoadOptions& opts = {}) const;

 private:
  std::string dir_;
  ModelInfo info_;
  std::vector<SafetensorsFile> files_;
  std::map<std::string, std::pair<size_t, const SafetensorsTensor*>> index_;  // name -> (file, tensor)
};

}  // namespace strata
