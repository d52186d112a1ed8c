// The placement rule, shared by BlockPlacement (which applies it) and the planner (which predicts it): how many
// blocks stay resident on the device, how many go to the host tier and how many to the disk tier.
#pragma once
#include <cstddef>
#include <array>
#include <string>

#include "core/enum_names.h"

namespace strata {

// memory.frozen_tier: where frozen blocks live. Auto fills the device budget, then the host budget, then disk.
enum class FrozenTier { Device, Host, Disk, Auto };
constexpr std::array<EnumName<FrozenTier>, 4> enum_names(FrozenTier) {
  return {{{FrozenTier::Device, "device"}, {FrozenTier::Host, "host"}, {FrozenTier::Disk, "disk"},
           {FrozenTier::Auto, "auto"}}};
}

struct PlacementCounts {
  int device = 0, host = 0, disk = 0;
};

// What one trained block adds beyond a frozen one, per tier: its working weights (promoted), its gradient and, on
// the device or on the host by memory.optimizer, its fp32 moments and master (every block has one on the host; with
// bf16 tensors on the device) plus, for a host optimizer with a separate device, its pinned staging.
struct TrainedBlockBytes {
  size_t device = 0, host = 0;
};
TrainedBlockBytes trained_block_bytes(size_t blob_bytes, size_t blob32_bytes, bool bf16, bool host_optimizer,
                                      bool staging);

// device_room / host_room: bytes left under the budgets when blocks are placed (SIZE_MAX = no budget). auto keeps
// room for `trained_blocks` blocks of `trained` bytes each and, on the device, `prefetch` + 1 streaming slots;
// throws naming memory.device_budget when even that does not fit.
PlacementCounts decide_placement(FrozenTier frozen_tier, int n_layers, size_t blob_bytes, size_t device_room,
                                 size_t host_room, int trained_blocks, TrainedBlockBytes trained, int prefetch);

}  // namespace strata
