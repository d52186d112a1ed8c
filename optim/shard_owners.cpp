// ShardOwners: a stable greedy assignment of trained blobs to ranks by bytes.
#include "optim/shard_owners.h"

#include <algorithm>

namespace strata {

void ShardOwners::update(const std::vector<std::pair<BlobId, size_t>>& blobs) {
  for (auto it = owner_.begin(); it != owner_.end();) {
    const bool stays = std::any_of(blobs.begin(), blobs.end(), [&](const auto& b) { return b.first == it->first; });
    if (stays) {
      ++it;
      continue;
    }
    loads_[it->second.first] -= it->second.second;
    it = owner_.erase(it);
  }
  std::vector<std::pair<BlobId, size_t>> fresh;
  for (const auto& b : blobs)
    if (!owner_.count(b.first)) fresh.push_back(b);
  std::sort(fresh.begin(), fresh.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first.value < b.first.value;
  });
  for (const auto& [blob, bytes] : fresh) {
    const int r = (int)(std::min_element(loads_.begin(), loads_.end()) - loads_.begin());
    owner_[blob] = {r, bytes};
    loads_[r] += bytes;
  }
}

int ShardOwners::owner(BlobId blob) const {
  const auto it = owner_.find(blob);
  return it == owner_.end() ? -1 : it->second.first;
}

}  // namespace strata
