// StreamedModel: a model path (resolve_model_path), a one-blob cache, and sources that fill from it.
#include "engine/streamed_model.h"

#include <filesystem>

#include "core/check.h"
#include "formats/hf_export.h"

namespace strata {

namespace fs = std::filesystem;

StreamedModel::StreamedModel(const std::string& path, Backend& backend, const LoadOptions& opts)
    : backend_(backend), opts_(opts) {
  const ModelPath mp = resolve_model_path(path);
  description_ = mp.description;
  base_ = std::make_unique<BaseWeights>(mp.base);
  info_ = base_->info();
  layout_ = make_model_layout(info_.config, DType::F32);
  held_ = std::make_unique<ParamStore>(backend, layout_, MemoryKind::Host, MemoryCategory::Weights);
  if (!mp.checkpoint.empty()) {
    checkpoint_.emplace(CheckpointStore::load(mp.checkpoint));
    validate_state(checkpoint_->state, held_->ids(), (fs::path(mp.checkpoint) / "state.json").string());
    trained_.insert(checkpoint_->state.dirty_blobs.begin(), checkpoint_->state.dirty_blobs.end());
    description_ += " (step " + std::to_string(checkpoint_->state.step) + ", base: " + mp.base_name + ")";
  }
}

void StreamedModel::hold(BlobId blob) {
  if (held_blob_ == blob) return;
  if (held_blob_) held_->release(*held_blob_);
  held_blob_.reset();
  base_->load_blob(*held_, blob, backend_, opts_);
  if (trained_.count(blob)) overlay_weights(*checkpoint_->weights, *held_, backend_, {blob});
  held_blob_ = blob;
}

void StreamedModel::load_blob(ParamStore& params, BlobId blob, Backend& backend) const {
  base_->load_blob(params, blob, backend, opts_);
  if (trained_.count(blob)) overlay_weights(*checkpoint_->weights, params, backend, {blob});
}

std::vector<TensorSource> StreamedModel::tensor_sources(std::optional<DType> dtype) {
  std::vector<TensorSource> out;
  for (BlobId blob : held_->ids().all()) {
    const BlobLayout& layout = held_->layout_of(blob);
    if (layout.bytes == 0) continue;
    for (int i = 0; i < (int)layout.tensors.size(); ++i) {
      const TensorSpec& spec = layout.tensors[i];
      TensorSource t;
      t.name = hf_tensor_name(*held_, blob, i);
      t.dtype = dtype.value_or(spec.dtype);
      t.shape = spec.shape;
      t.fill_range = [this, blob, i, stored = spec.dtype, to = t.dtype](void* dst, size_t offset, size_t bytes) {
        hold(blob);
        copy_converted(dst, held_->tensor(blob, i), stored, to, offset, bytes, backend_);
      };
      out.push_back(std::move(t));
    }
  }
  return out;
}

}  // namespace strata
