// BlockPlacement: decides where each transformer block's weights live (resident on the device, or in the host or
// disk tier and streamed through the LayerStreamer), loads the base weights there, and moves blocks between the
// device and their tier when LISA activates or deactivates them.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "model/blob_source.h"
#include "model/llama_model.h"
#include "offload/layer_streamer.h"
#include "offload/placement_policy.h"
#include "offload/tier_store.h"

namespace strata {

struct PlacementOptions {
  FrozenTier frozen_tier = FrozenTier::Device;
  std::string disk_path;               // the disk tier's file
  int prefetch = 2;
  VerifyPolicy verify = VerifyPolicy::First;
  DiskIo io = DiskIo::Auto;
  int trained_blocks = 0;  // blocks trained at once (LISA gamma, or all): auto keeps room for them
  TrainedBlockBytes trained_bytes;  // what each of them takes beyond a frozen block, per tier
  Warn warn;
  // Where progress lines of the initial placement go ("placing blocks: 12/32 | 4.8/12.9 GB | 0.52 GB/s | ETA 0:15"),
  // at most one every 2 s plus a final one when it took that long (core/progress_line.h); null: none.
  std::function<void(const std::string&)> progress;
};

struct PlacementStats {
  TierStats host, disk;
  StreamerStats streamer;
};

class BlockPlacement {
 public:
  // Places every block of `model` (constructed with allocate_blocks = false) and loads its base weights.
  // Throws before anything runs when the device budget cannot hold the minimum (naming what to change).
  BlockPlacement(Backend& backend, LlamaModel& model, const BlobSource& base, const PlacementOptions& opts);
  ~BlockPlacement();

  // Blocks that live in a tier while frozen (the rest stay resident for the whole run).
  bool streamed(int layer) const { return tier_of_[layer] != nullptr; }
  bool any_streamed() const { return n_host_ + n_disk_ > 0; }
  // Makes a streamed block resident (reads its tier copy; blocking). No-op for resident blocks.
  void promote(int layer);
  // Writes a streamed block's (updated) weights back to its tier and frees its device blob; the write completes
  // (checksum updated) before this returns, so no later read can see stale data. No-op for always-resident blocks.
  void demote(int layer);
  // Copies a block's current weights into / from host memory (checkpoints, resume), wherever the block lives.
  void read_block(int layer, void* host);
  void write_block(int layer, const void* host);

  std::string describe() const;  // "blocks: 2 resident, 6 host tier (prefetch 2)"
  void set_profiler(Profiler* p);
  PlacementStats stats() const;

 private:
  void to_tier(int layer, TierStore& tier, const void* host_or_device);

  Backend& backend_;
  LlamaModel& model_;
  PlacementOptions opts_;
  std::unique_ptr<TierStore> host_tier_, disk_tier_;
  std::vector<TierStore*> tier_of_;
  std::vector<int> tier_id_;  // the block's blob id within its store
  std::unique_ptr<LayerStreamer> streamer_;
  int n_resident_ = 0, n_host_ = 0, n_disk_ = 0;
  Profiler* prof_ = nullptr;
};

}  // namespace strata
