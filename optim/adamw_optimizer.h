// AdamWOptimizer: fp32 first/second moments (and, for bf16 weights, fp32 master weights) for the trainable blobs
// only, on the device, with LISA's two policies for a deactivated block: drop its state ("reset") or park it in host
// memory and restore it later ("keep").
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "core/enum_names.h"
#include "model/param_store.h"
#include "formats/safetensors.h"

namespace strata {

enum class InactiveStatePolicy { Reset, Keep };
constexpr std::array<EnumName<InactiveStatePolicy>, 2> enum_names(InactiveStatePolicy) {
  return {{{InactiveStatePolicy::Reset, "reset"}, {InactiveStatePolicy::Keep, "keep"}}};
}

// memory.optimizer: where the fp32 masters and AdamW moments of the trained tensors live and where the update runs.
// device: on the device, updated by the backend; host: in (pinned) host memory, updated by host threads from
// gradients copied off the device, the new weights copied back (ZeRO-Offload's idea for LISA).
enum class OptimizerPlacement { Device, Host };
constexpr std::array<EnumName<OptimizerPlacement>, 2> enum_names(OptimizerPlacement) {
  return {{{OptimizerPlacement::Device, "device"}, {OptimizerPlacement::Host, "host"}}};
}

struct AdamWHyper {
  float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
  float weight_decay = 0.0f;  // applied to matrices; norm weights (1-D tensors) are not decayed
};

class AdamWOptimizer {
 public:
  // `layout`: the working weights (F32 or mixed BF16); `master_layout`: its all-F32 twin (moments, masters).
  AdamWOptimizer(Backend& backend, const ModelLayout& layout, const ModelLayout& master_layout, AdamWHyper hyper);

  // Gives `blob` device state: zeros (step count 0) and, for BF16 tensors, an fp32 master copied from `params`;
  // or the state parked by deactivate(Keep).
  void activate(BlobId blob, const ParamStore& params);
  // Removes the device state of `blob`: dropped (Reset) or moved to host memory (Keep).
  void deactivate(BlobId blob, InactiveStatePolicy policy);
  bool is_active(BlobId blob) const { return device_m_.has(blob); }
  bool is_parked(BlobId blob) const { return host_m_.has(blob); }
  int64_t steps_of(BlobId blob) const { return steps_[blob.value]; }

  // One AdamW update of every active blob from `grads` (scaled by grad_scale), at learning rate lr.
  void step(ParamStore& params, const ParamStore& grads, float lr, float grad_scale);

  // ---- checkpointing -------------------------------------------------------------------------------------------
  // Every active and parked state as tensors "m.<blob>", "v.<blob>" and, with bf16 weights, "master.<blob>" (F32,
  // whole blob) for write_safetensors.
  std::vector<TensorSource> state_tensors() const;
  std::vector<int64_t> all_steps() const { return steps_; }
  // Restores from a file written from state_tensors(): blobs in `active` go to the device, the rest are parked.
  // Throws naming the file and blob when a tensor is missing or has the wrong size.
  void load_state(const SafetensorsFile& file, const std::vector<BlobId>& active, const std::vector<int64_t>& steps);

 private:
  void update_blob(BlobId blob, ParamStore& params, const ParamStore& grads, float lr, float grad_scale);

  bool has_master(BlobId blob) const;  // the blob has BF16 tensors, hence an fp32 master copy

  Backend& backend_;
  const ModelLayout& layout_;
  AdamWHyper hyper_;
  ParamStore device_m_, device_v_;  // Device / OptimizerState, master layout
  ParamStore host_m_, host_v_;      // HostPinned / OptimizerState (parked, policy Keep)
  ParamStore device_master_;        // Device / MasterWeights: fp32 masters of BF16 tensors (F32 tensors unused)
  ParamStore host_master_;          // HostPinned / MasterWeights (parked, policy Keep)
  std::vector<int64_t> steps_;      // updates seen by each blob's current state
};

}  // namespace strata
