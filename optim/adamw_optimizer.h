// AdamWOptimizer: fp32 first/second moments (and fp32 master weights) for the trainable blobs only, on the device
// or in host memory (memory.optimizer), with LISA's two policies for a deactivated block: drop its state ("reset")
// or park it in host memory and restore it later ("keep").
#pragma once
#include <array>
#include <cstdint>
#include <functional>
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
  // `where`: Device keeps the state on the device and updates it there; Host keeps it in pinned host memory and
  // updates it on host threads (gradients come through gradient_ready(), new weights go back before step() returns
  // their copies' completion to the compute stream).
  AdamWOptimizer(Backend& backend, const ModelLayout& layout, const ModelLayout& master_layout, AdamWHyper hyper,
                 OptimizerPlacement where = OptimizerPlacement::Device);

  // Gives `blob` live state: zeros (step count 0) and an fp32 master copied from `params` (for BF16 tensors; on the
  // host, for every tensor); or the state parked by deactivate(Keep).
  void activate(BlobId blob, const ParamStore& params);
  // Ends the live state of `blob`: dropped (Reset) or parked (Keep: moved to host memory from the device, or left
  // where it is on the host).
  void deactivate(BlobId blob, InactiveStatePolicy policy);
  bool is_active(BlobId blob) const { return active_[blob.value]; }
  bool is_parked(BlobId blob) const;
  int64_t steps_of(BlobId blob) const { return steps_[blob.value]; }
  OptimizerPlacement placement() const { return where_; }
  // The blob has a master: one with BF16 tensors, or any blob under host placement.
  bool has_master(BlobId blob) const;
  // Bytes of each of its fp32 state tensors (m, v, master): the blob's fp32 size.
  size_t state_bytes(BlobId blob) const { return m_.blob_bytes(blob); }

  // Host placement: `blob`'s gradient in `grads` is final for this step (its last backward contribution is queued
  // on the compute stream): starts its copy to host memory on the copy stream, overlapped with the backward of what
  // comes next. No-op on the device, for inactive blobs and for blobs already started this step.
  void gradient_ready(BlobId blob, const ParamStore& grads);
  // A step that will not update (skipped as non-finite): waits for and forgets the gradient copies started.
  void discard_gradients();

  // One AdamW update of every active blob from `grads` (scaled by grad_scale), at learning rate lr. Host placement:
  // waits for each gradient copy, updates on host threads, queues the new weights' copy to `params`, and makes the
  // compute stream wait for those copies.
  void step(ParamStore& params, const ParamStore& grads, float lr, float grad_scale);

  // ---- checkpointing -------------------------------------------------------------------------------------------
  // Every active and parked state as tensors "m.<blob>", "v.<blob>" and, where a master exists, "master.<blob>"
  // (F32, whole blob) for write_safetensors.
  std::vector<TensorSource> state_tensors() const;
  std::vector<int64_t> all_steps() const { return steps_; }
  // Restores from a file written from state_tensors() by the same placement (a resume refuses another
  // memory.optimizer): blobs in `active` become live, the rest are parked. Throws naming the file and blob when a
  // tensor is missing or has the wrong size.
  // `mine` (when set) limits the load to the blobs it accepts: a rank of a sharded optimizer loads only its own.
  void load_state(const SafetensorsFile& file, const std::vector<BlobId>& active, const std::vector<int64_t>& steps,
                  const std::function<bool(BlobId)>& mine = {});

 private:
  bool host() const { return where_ == OptimizerPlacement::Host; }
  void update_blob(BlobId blob, ParamStore& params, const ParamStore& grads, float lr, float grad_scale);
  void update_blob_on_host(BlobId blob, const AdamWStep& base, const ParamStore& grads, const ParamStore& out);
  // Host placement on a backend whose device memory is host memory (cpu, ref): no staging, no copies.
  bool zero_copy() const { return backend_.caps().device_is_host; }
  void init_master(BlobId blob, const ParamStore& params);  // master_ <- params (exact), through staging on host
  AdamWStep step_args(BlobId blob, float lr, float grad_scale);
  void read_into(const SafetensorsFile& file, const SafetensorsTensor& t, void* dst, size_t bytes);


  Backend& backend_;
  const ModelLayout& layout_;
  AdamWHyper hyper_;
  OptimizerPlacement where_;
  // Live state: Device (device placement) or HostPinned (host placement); master layout.
  ParamStore m_, v_;    // OptimizerState
  ParamStore master_;   // MasterWeights: fp32 masters (device placement: of BF16 tensors only; F32 tensors unused)
  // Device placement only: state parked by deactivate(Keep) (HostPinned).
  ParamStore parked_m_, parked_v_, parked_master_;
  // Host placement with a separate device only: per active blob, its gradient copied off the device, then (in
  // place) its new weights (HostPinned, working layout, category Grads).
  ParamStore staging_;
  Stream copy_stream_;           // host placement: gradient and weight copies
  Event compute_done_;           // host placement: reused marker of "queued compute so far"
  std::vector<Event> grad_copied_;  // host placement, per blob: its gradient copy is complete
  std::vector<char> active_;     // per blob
  std::vector<char> staged_;     // per blob: gradient copy started this step
  std::vector<int64_t> steps_;   // updates seen by each blob's current state
  Buffer bounce_;                // load_state on a separate device: 8 MiB of host memory between file and state
};

}  // namespace strata
