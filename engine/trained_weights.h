// The weights a checkpoint holds (blobs that differ from the base model), read and written wherever each block
// lives: resident blobs straight from the model's parameters, tiered blocks through their tier copy, one block at
// a time, so a checkpoint never needs all of them in memory at once.
#pragma once
#include <vector>

#include "backend/backend.h"
#include "formats/hf_export.h"
#include "formats/safetensors.h"
#include "model/llama_model.h"
#include "offload/block_placement.h"

namespace strata {

// Tensor sources (HF names) of `blobs`, for CheckpointStore::save. Valid while `model` and `placement` live.
std::vector<TensorSource> trained_weight_sources(LlamaModel& model, BlockPlacement& placement, Backend& backend,
                                                 const std::vector<BlobId>& blobs);

// Copies `blobs` from a checkpoint's weights file into the model (resident blobs) or into the blocks' tiers.
void restore_trained_weights(const SafetensorsFile& weights, LlamaModel& model, BlockPlacement& placement,
                             Backend& backend, const std::vector<BlobId>& blobs);

}  // namespace strata
