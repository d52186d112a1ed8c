// ActiveSet: the transformer blocks that train right now (LISA's sampled gamma, or all of them), and the swap when
// the set changes: leaving blocks drop their grads and optimizer state (reset or park) and go back to their tier,
// entering ones come to the device with fresh or parked state.
#pragma once
#include <functional>
#include <vector>

#include "model/llama_model.h"
#include "offload/block_placement.h"
#include "optim/adamw_optimizer.h"

namespace strata {

class ActiveSet {
 public:
  ActiveSet(LlamaModel& model, AdamWOptimizer& opt, BlockPlacement& placement, InactiveStatePolicy policy);

  const std::vector<int>& blocks() const { return blocks_; }  // sorted layer indices

  // Makes `blocks` (sorted) the trained set. One out, one in: the device never holds more than gamma trained blocks,
  // and under `keep` at most one more block than the inactive ones has parked state (the planner counts L-gamma+1).
  void switch_to(const std::vector<int>& blocks);

  // Resume: makes `blocks` resident and trainable without touching the optimizer (its state comes from the
  // checkpoint, loaded afterwards).
  void restore(const std::vector<int>& blocks);
  // Which entering blocks get optimizer state on this process (a sharded optimizer: only the blocks it owns).
  void set_state_filter(std::function<bool(BlobId)> owns) { owns_ = std::move(owns); }

 private:
  LlamaModel& model_;
  AdamWOptimizer& opt_;
  BlockPlacement& placement_;
  InactiveStatePolicy policy_;
  std::vector<int> blocks_;
  std::function<bool(BlobId)> owns_;  // empty: every block
};

}  // namespace strata
