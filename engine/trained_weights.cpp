// Trained weights in and out of checkpoints: tiered blocks pass through one host blob of staging (accounted as
// streaming memory), read lazily as the checkpoint writer reaches their tensors; reads go piece by piece.
#include "engine/trained_weights.h"

#include <cstring>
#include <memory>
#include <utility>

#include "engine/base_weights.h"

namespace strata {

namespace {

// A block whose home is a tier (not resident on the device).
bool in_tier(const LlamaModel& model, BlobId blob) {
  return model.ids().is_block(blob) && !model.block_resident(model.ids().layer_of(blob));
}

}  // namespace

std::vector<TensorSource> trained_weight_sources(LlamaModel& model, BlockPlacement& placement, Backend& backend,
                                                 const std::vector<BlobId>& blobs) {
  std::vector<BlobId> resident;
  std::vector<int> tiered;  // layers
  for (BlobId blob : blobs) {
    if (in_tier(model, blob)) tiered.push_back(model.ids().layer_of(blob));
    else resident.push_back(blob);
  }
  std::vector<TensorSource> weights;
  if (!resident.empty()) weights = tensor_sources_from_params(model.params(), backend, std::nullopt, resident);
  struct Staging {
    int layer = -1;
    Buffer blob;
  };
  auto staging = std::make_shared<Staging>();
  const BlobLayout& bl = model.layout().block;
  for (int layer : tiered)
    for (int i = 0; i < (int)bl.tensors.size(); ++i) {
      const TensorSpec& t = bl.tensors[i];
      TensorSource src;
      src.name = hf_tensor_name(model.params(), model.ids().block(layer), i);
      src.dtype = t.dtype;
      src.shape = t.shape;
      src.fill_range = [&placement, &backend, staging, layer, &t, &bl](void* dst, size_t offset, size_t bytes) {
        if (staging->layer != layer) {
          if (!staging->blob) staging->blob = backend.alloc(MemoryKind::Host, bl.bytes, MemoryCategory::Streaming);
          placement.read_block(layer, staging->blob.data());
          staging->layer = layer;
        }
        std::memcpy(dst, staging->blob.as<char>() + t.offset + offset, bytes);
      };
      weights.push_back(std::move(src));
    }
  return weights;
}

void restore_trained_weights(const SafetensorsFile& weights, LlamaModel& model, BlockPlacement& placement,
                             Backend& backend, const std::vector<BlobId>& blobs) {
  ParamStore shadow(backend, model.layout(), MemoryKind::Host, MemoryCategory::Streaming);
  for (BlobId blob : blobs) {
    if (in_tier(model, blob)) {
      shadow.allocate(blob);
      overlay_weights(weights, shadow, backend, {blob});
      placement.write_block(model.ids().layer_of(blob), shadow.blob(blob));
      shadow.release(blob);
    } else {
      overlay_weights(weights, model.params(), backend, {blob});
    }
  }
}

}  // namespace strata
