// StreamedModel: any model path (HF folder, run folder, checkpoint), as load_any_model reads it, but held one blob at
// a time: `strata export` writes a 13B model in the host memory of its largest blob, not of the whole model.
#pragma once
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/base_weights.h"
#include "engine/checkpoint.h"
#include "formats/safetensors.h"

namespace strata {

class StreamedModel : public BlobSource {
 public:
  // Opens `path` (checks as load_any_model: the folder kind, the checkpoint's checksums and state); loads nothing.
  StreamedModel(const std::string& path, Backend& backend, const LoadOptions& opts = {});
  const ModelInfo& info() const { return info_; }
  const std::string& description() const { return description_; }

  // One source per tensor under its HF name, as `dtype` (empty: the stored fp32). A source loads its blob (base
  // weights, then the checkpoint's copy if the blob was trained) when the writer first reaches it and drops the
  // previous blob, so tensors written blob by blob load each blob once. Valid while this object lives.
  std::vector<TensorSource> tensor_sources(std::optional<DType> dtype);
  // BlobSource: `blob` as the path holds it (base weights, overlaid by the checkpoint when it trained the blob),
  // in the dtype of `params`' layout; the one-blob cache is not involved.
  void load_blob(ParamStore& params, BlobId blob, Backend& backend) const override;

 private:
  void hold(BlobId blob);  // makes `blob` the one loaded blob

  Backend& backend_;
  LoadOptions opts_;
  ModelInfo info_;
  ModelLayout layout_;
  std::unique_ptr<BaseWeights> base_;
  std::optional<LoadedCheckpoint> checkpoint_;
  std::set<BlobId> trained_;  // blobs whose weights come from the checkpoint
  std::string description_;
  std::unique_ptr<ParamStore> held_;  // Host / Weights: at most one blob allocated
  std::optional<BlobId> held_blob_;
};

}  // namespace strata
