// BlockProvider: where the model gets the weights of blocks that are not resident in its ParamStore (frozen blocks
// kept in a host or disk tier and streamed). The model announces each pass's access order, then acquires and
// releases the blocks strictly in that order, so the provider can prefetch ahead of compute.
#pragma once
#include <vector>

namespace strata {

class BlockProvider {
 public:
  virtual ~BlockProvider() = default;
  // The blocks the coming pass will acquire, in order (forward: ascending; backward: descending).
  virtual void begin_pass(const std::vector<int>& order) = 0;
  // Device pointer to block `layer`'s blob (layout of ModelLayout::block); valid until release(layer).
  virtual const void* acquire(int layer) = 0;
  // The compute queued so far is the last use of the pointer; its memory may be refilled after that compute.
  virtual void release(int layer) = 0;
};

}  // namespace strata
