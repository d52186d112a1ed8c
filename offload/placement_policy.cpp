// decide_placement: the one definition of the frozen-tier rule (see placement_policy.h).
#include "offload/placement_policy.h"

#include <algorithm>
#include <cstdint>

#include "core/check.h"
#include "memory/memory_tracker.h"

namespace strata {

namespace {

// auto: as many blocks resident as fit next to the trained blocks and the streaming slots, then host, then disk.
PlacementCounts decide_auto(int L, size_t blob, size_t device_room, size_t host_room, int trained,
                            TrainedBlockBytes per_trained, int prefetch) {
  PlacementCounts c;
  if (device_room == SIZE_MAX) {
    c.device = L;
    return c;
  }
  const size_t reserve = (size_t)trained * per_trained.device + (size_t)(prefetch + 1) * blob;
  STRATA_USER_CHECK(device_room >= reserve,
                    "memory.device_budget is too small: after the embedding, head and activations only " +
                        format_bytes(device_room) + " remain, but training " + std::to_string(trained) +
                        " block(s) at a time with prefetch " + std::to_string(prefetch) + " needs " +
                        format_bytes(reserve) +
                        "; raise memory.device_budget, lower lisa.layers, data.seq_len or "
                        "train.micro_batch, or set memory.activation_checkpointing = true");
  c.device = (int)std::min<size_t>(L, (device_room - reserve) / blob);
  const size_t host_reserve = (size_t)trained * per_trained.host;
  const size_t host_left = host_room == SIZE_MAX ? SIZE_MAX : (host_room > host_reserve ? host_room - host_reserve : 0);
  c.host = host_left == SIZE_MAX ? L - c.device : (int)std::min<size_t>(L - c.device, host_left / blob);
  c.disk = L - c.device - c.host;
  return c;
}

}  // namespace

TrainedBlockBytes trained_block_bytes(size_t blob, size_t blob32, bool bf16, bool host_optimizer, bool staging) {
  TrainedBlockBytes t;
  t.device = 2 * blob;  // promoted weights + gradient
  if (host_optimizer) t.host = 3 * blob32 + (staging ? blob : 0);
  else t.device += 2 * blob32 + (bf16 ? blob32 : 0);
  return t;
}

PlacementCounts decide_placement(FrozenTier tier, int L, size_t blob, size_t device_room, size_t host_room,
                                 int trained, TrainedBlockBytes per_trained, int prefetch) {
  PlacementCounts c;
  switch (tier) {
    case FrozenTier::Device: c.device = L; break;
    case FrozenTier::Host: c.host = L; break;
    case FrozenTier::Disk: c.disk = L; break;
    case FrozenTier::Auto: c = decide_auto(L, blob, device_room, host_room, trained, per_trained, prefetch); break;
  }
  return c;
}

}  // namespace strata
