// ShardOwners: which rank holds (and updates) each trained blob's optimizer state when distributed.shard_optimizer
// is on (ZeRO-1 by blob). Blobs keep their owner while they stay trained; a blob that starts training goes to the
// rank holding the fewest bytes (largest blobs first, ties to the lower rank), so every rank computes the same map
// from the same sequence of trained sets.
#pragma once
#include <cstddef>
#include <map>
#include <vector>

#include "model/blob_id.h"

namespace strata {

class ShardOwners {
 public:
  explicit ShardOwners(int ranks) : loads_((size_t)ranks, 0) {}
  // The trained blobs are now `blobs` (with their bytes): owners of blobs that left are dropped, new ones assigned.
  void update(const std::vector<std::pair<BlobId, size_t>>& blobs);
  int owner(BlobId blob) const;  // -1 when the blob is not trained
  size_t load(int rank) const { return loads_[rank]; }  // bytes of the blobs it owns

 private:
  std::map<BlobId, std::pair<int, size_t>> owner_;  // blob -> (rank, bytes)
  std::vector<size_t> loads_;
};

}  // namespace strata
