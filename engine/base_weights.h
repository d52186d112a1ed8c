// Where a run's weights come from: the [model] section (a preset with a seeded init, or an HF folder), trained
// blobs overlaid from a checkpoint, and "any model path" (HF folder, run folder or checkpoint) for export and eval.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "config/run_config.h"
#include "formats/hf_model_folder.h"
#include "model/blob_source.h"
#include "model/param_store.h"

namespace strata {

ModelInfo base_model_info(const ModelSection& m);

// The base weights of [model], blob by blob (a folder stays open between calls).
class BaseWeights : public BlobSource {
 public:
  explicit BaseWeights(const ModelSection& m);
  const ModelInfo& info() const { return info_; }
  // Allocates `blob` in `params` and fills it with its base values.
  void load_blob(ParamStore& params, BlobId blob, Backend& backend, const LoadOptions& opts) const;
  void load_blob(ParamStore& params, BlobId blob, Backend& backend) const override { load_blob(params, blob, backend, {}); }

 private:
  ModelSection m_;
  ModelInfo info_;
  std::unique_ptr<HfModelFolder> folder_;
};
// Fills every blob of `params` with the base weights (seeded init for a preset; the folder's tensors for a path).
void load_base_weights(const ModelSection& m, ParamStore& params, Backend& backend, const LoadOptions& opts = {});
// Copies the tensors of `blobs` (HF names) from a checkpoint's weights file into `params`.
void overlay_weights(const SafetensorsFile& file, ParamStore& params, Backend& backend, const std::vector<BlobId>& blobs);

// What a model path names (an HF model folder with config.json, a run folder with config.toml, or a checkpoint
// folder with state.json): the [model] section of its base weights, the checkpoint whose trained blobs overlay them
// (empty: the base model alone) and a description. Throws naming `path` when it is none of the three.
struct ModelPath {
  ModelSection base;         // a preset, or path = the HF folder
  std::string checkpoint;    // the checkpoint folder; empty: none
  std::string run_dir;       // the run folder (a run or one of its checkpoints); empty for an HF folder
  std::string base_name;     // "preset tiny" or the folder
  std::string description;   // the path, or "<run> (no checkpoint: the base model, <base>)", or the checkpoint
};
ModelPath resolve_model_path(const std::string& path);

struct LoadedModel {
  ModelInfo info;
  ModelLayout layout;
  std::unique_ptr<ParamStore> params;
  std::string description;  // what was loaded, e.g. "runs/x/checkpoints/step_00000200 (base: preset tiny)"
  std::string base_path;    // the HF folder the weights came from (or the run's model.path); empty for presets
};
// `path` is an HF model folder (config.json), a run folder (config.toml; its newest checkpoint, or the base model
// when it has none) or a checkpoint folder (state.json). Parameters go to host memory of `backend`.
std::unique_ptr<LoadedModel> load_any_model(const std::string& path, Backend& backend, const LoadOptions& opts = {});

}  // namespace strata
