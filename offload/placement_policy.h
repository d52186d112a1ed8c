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

// device_room / host_room: bytes left under the budgets when blocks are
// placed (SIZE_MAX = no budget). auto keeps room on the device for `trained_blocks` (weights, grads, two AdamW
// moments: 4 blobs each) and `prefetch` + 1 streaming slots; throws naming memory.device_budget when even that
// does not fit.
PlacementCounts decide_placement(FrozenTier frozen_tier, int n_layers, size_t blob_bytes, size_t device_room,
                                 size_t host_room, int trained_blocks, int prefetch);

}  // namespace strata
