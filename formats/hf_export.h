// Writing Hugging Face model folders: config.json + model.safetensors, or size-limited shards with
// model.safetensors.index.json, atomically (temp folder, fsync, rename), from any stream of tensors.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "formats/hf_config.h"
#include "model/param_store.h"
#include "formats/safetensors.h"

namespace strata {

struct ExportOptions {
  DType dtype = DType::F32;
  size_t max_shard_bytes = 5000000000ull;  // HF's default "5GB"; a larger tensor gets a shard of its own
  bool overwrite = false;                  // replace an existing output folder (atomically)
};

// Tensors of `params` under their HF names, converted to `dtype` as they are written (nullopt: each in the dtype
// it is stored in); only the blobs listed in `blobs` when it is non-empty.
std::vector<TensorSource> tensor_sources_from_params(const ParamStore& params, Backend& backend,
                                                     std::optional<DType> dtype,
                                                     const std::vector<BlobId>& blobs = {});
// Tensors of a freshly initialised model (param_init.h's values for `seed`, `std`), generated one blob at a time.
std::vector<TensorSource> tensor_sources_from_init(const ModelLayout& layout, uint64_t seed, float std, DType dtype);

// Writes the folder `dir`. Fails before writing anything when `dir` exists (unless overwrite) or the file system
// lacks the space; on any failure the temp folder is removed and an existing `dir` is left untouched.
void write_hf_model(const std::string& dir, const ModelInfo& info, const std::vector<TensorSource>& tensors,
                    const ExportOptions& opts);

}  // namespace strata
