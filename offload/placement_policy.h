// The placement rule, shared by BlockPlacement (which applies it) and the planner (which predicts it): how many
// blocks stay resident on the device, how many go to the host tier and how many to the disk tier.
#pragma once
#include <cstddef>
#include <string>

namespace strata {

struct PlacementCounts {
  int device = 0, host = 0, disk = 0;
};

// frozen_tier: device | host | disk | auto. device_room / host_room: bytes left under the budgets when blocks are
// placed (SIZE_MAX = no budget). auto keeps room on the device for `trained_blocks` (weights, grads, two AdamW
// moments: 4 blobs each) and `prefetch` + 1 streaming slots; throws naming memory.device_budget when even that
// does not fit.
PlacementCounts decide_placement(const std::string& frozen_tier, int n_layers, size_t blob_bytes, size_t device_room,
                                 size_t host_room, int trained_blocks, int prefetch);

}  // namespace strata
