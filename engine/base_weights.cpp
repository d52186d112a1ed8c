// Base-model loading and checkpoint overlays; load_any_model tells folders apart by their marker file.
#include "engine/base_weights.h"

#include <filesystem>

#include "core/check.h"
#include "engine/checkpoint.h"
#include "formats/tensor_pieces.h"
#include "model/param_init.h"
#include "model/presets.h"

namespace strata {

namespace fs = std::filesystem;

ModelInfo base_model_info(const ModelSection& m) {
  if (!m.preset.empty()) {
    const ModelPreset* p = find_preset(m.preset);
    STRATA_USER_CHECK(p, "model.preset: unknown preset '" + m.preset + "' (see `strata presets`)");
    return p->info;
  }
  return HfModelFolder::open(m.path).info();
}

BaseWeights::BaseWeights(const ModelSection& m) : m_(m) {
  if (m.preset.empty()) {
    folder_ = std::make_unique<HfModelFolder>(HfModelFolder::open(m.path));
    info_ = folder_->info();
  } else {
    info_ = base_model_info(m);
  }
}

void BaseWeights::load_blob(ParamStore& params, BlobId blob, Backend& backend, const LoadOptions& opts) const {
  if (folder_) folder_->load_blob(params, blob, backend, opts);
  else init_blob_normal(params, backend, blob, m_.init_seed, info_.initializer_range);
}

void load_base_weights(const ModelSection& m, ParamStore& params, Backend& backend, const LoadOptions& opts) {
  if (!m.preset.empty()) {
    init_params_normal(params, backend, m.init_seed, base_model_info(m).initializer_range);
    return;
  }
  HfModelFolder::open(m.path).load_into(params, backend, opts);
}

void overlay_weights(const SafetensorsFile& file, ParamStore& params, Backend& backend, const std::vector<BlobId>& blobs) {
  for (BlobId blob : blobs) {
    STRATA_USER_CHECK(params.ids().valid(blob),
                      file.path() + ": blob id " + to_string(blob) + " is outside this model");
    const BlobLayout& layout = params.layout_of(blob);
    for (int i = 0; i < (int)layout.tensors.size(); ++i) {
      const std::string name = hf_tensor_name(params, blob, i);
      const SafetensorsTensor* t = file.find(name);
      const TensorSpec& spec = layout.tensors[i];
      STRATA_USER_CHECK(t && (t->dtype == DType::F32 || t->dtype == DType::BF16) && t->shape == spec.shape,
                        file.path() + ": tensor '" + name + "' is missing or not F32/BF16 of the model's shape");
      // Piece by piece (bounded memory, nothing mapped), converted to the blob's dtype through fp32 when the file
      // holds another one (exact for BF16 -> F32).
      auto* dst = static_cast<unsigned char*>(params.tensor(blob, i));
      const size_t dst_size = dtype_size(spec.dtype);
      read_tensor_pieces(file, *t, spec.dtype, [&](const void* values, size_t first, size_t n) {
        backend.copy(dst + first * dst_size, values, n * dst_size);
      });
    }
  }
}

ModelPath resolve_model_path(const std::string& path) {
  ModelPath mp;
  std::error_code ec;
  STRATA_USER_CHECK(fs::is_directory(path, ec), "'" + path + "' does not exist or is not a folder");
  if (fs::exists(fs::path(path) / "config.json", ec)) {
    mp.base.path = mp.base_name = mp.description = path;
    return mp;
  }
  std::string run_dir;
  if (fs::exists(fs::path(path) / "state.json", ec)) {
    mp.checkpoint = path;
    run_dir = fs::path(path).lexically_normal().parent_path().parent_path().string();
  } else if (fs::exists(fs::path(path) / "config.toml", ec)) {
    run_dir = path;
    mp.checkpoint = CheckpointStore::latest(run_dir).value_or("");
  } else {
    STRATA_USER_FAIL("'" + path +
                     "' is not a model folder (config.json), a run folder (config.toml) or a checkpoint "
                     "folder (state.json)");
  }
  mp.run_dir = run_dir;
  mp.base = RunConfig::load((fs::path(run_dir) / "config.toml").string()).model;
  mp.base_name = mp.base.preset.empty() ? mp.base.path : "preset " + mp.base.preset;
  mp.description = mp.checkpoint.empty() ? run_dir + " (no checkpoint: the base model, " + mp.base_name + ")"
                                         : mp.checkpoint;
  return mp;
}

std::unique_ptr<LoadedModel> load_any_model(const std::string& path, Backend& backend, const LoadOptions& opts) {
  const ModelPath mp = resolve_model_path(path);
  auto out = std::make_unique<LoadedModel>();
  out->base_path = mp.base.path;
  out->info = base_model_info(mp.base);
  out->layout = make_model_layout(out->info.config, DType::F32);
  out->params = std::make_unique<ParamStore>(backend, out->layout, MemoryKind::Host, MemoryCategory::Weights);
  out->params->allocate_all();
  load_base_weights(mp.base, *out->params, backend, opts);
  out->description = mp.description;
  if (mp.checkpoint.empty()) return out;
  const LoadedCheckpoint ck = CheckpointStore::load(mp.checkpoint);
  validate_state(ck.state, out->params->ids(), (fs::path(mp.checkpoint) / "state.json").string());
  overlay_weights(*ck.weights, *out->params, backend, ck.state.dirty_blobs);
  out->description += " (step " + std::to_string(ck.state.step) + ", base: " + mp.base_name + ")";
  return out;
}

}  // namespace strata
