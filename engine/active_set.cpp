// ActiveSet: set differences, then interleaved demote / promote so the device peak is gamma trained blocks.
#include "engine/active_set.h"

#include <algorithm>

namespace strata {

ActiveSet::ActiveSet(LlamaModel& model, AdamWOptimizer& opt, BlockPlacement& placement, InactiveStatePolicy policy)
    : model_(model), opt_(opt), placement_(placement), policy_(policy) {}

void ActiveSet::switch_to(const std::vector<int>& blocks) {
  std::vector<int> leaving, entering;
  std::set_difference(blocks_.begin(), blocks_.end(), blocks.begin(), blocks.end(), std::back_inserter(leaving));
  std::set_difference(blocks.begin(), blocks.end(), blocks_.begin(), blocks_.end(), std::back_inserter(entering));
  const BlobIds ids = model_.ids();
  for (size_t i = 0; i < std::max(leaving.size(), entering.size()); ++i) {
    if (i < leaving.size()) {
      const int layer = leaving[i];
      model_.set_block_trainable(layer, false);  // releases the gradient blob
      opt_.deactivate(ids.block(layer), policy_);
      placement_.demote(layer);  // updated weights back to the block's tier
    }
    if (i < entering.size()) {
      const int layer = entering[i];
      placement_.promote(layer);
      model_.set_block_trainable(layer, true);
      if (!owns_ || owns_(ids.block(layer))) opt_.activate(ids.block(layer), model_.params());
    }
  }
  blocks_ = blocks;
}

void ActiveSet::restore(const std::vector<int>& blocks) {
  for (int layer : blocks_) model_.set_block_trainable(layer, false);
  for (int layer : blocks) {
    placement_.promote(layer);
    model_.set_block_trainable(layer, true);
  }
  blocks_ = blocks;
}

}  // namespace strata
