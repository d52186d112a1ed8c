// BlobId: a blob's id in a model's blob table (0..L-1 the transformer blocks, then the embedding, the final norm and
// the head), a type of its own so that a blob id is never taken for a layer index (a plain int named `layer`) or the
// reverse; BlobIds numbers the blobs of a model with L layers.
#pragma once
#include <compare>
#include <ostream>
#include <string>
#include <vector>

namespace strata {

struct BlobId {
  int value = -1;
  constexpr BlobId() = default;
  constexpr explicit BlobId(int v) : value(v) {}
  friend constexpr bool operator==(BlobId, BlobId) = default;
  friend constexpr auto operator<=>(BlobId, BlobId) = default;
};

inline std::string to_string(BlobId b) { return std::to_string(b.value); }
inline std::ostream& operator<<(std::ostream& os, BlobId b) { return os << "blob " << b.value; }

struct BlobIds {
  int n_layers = 0;
  BlobId block(int layer) const { return BlobId(layer); }
  BlobId embedding() const { return BlobId(n_layers); }
  BlobId final_norm() const { return BlobId(n_layers + 1); }
  BlobId head() const { return BlobId(n_layers + 2); }
  int count() const { return n_layers + 3; }
  bool is_block(BlobId b) const { return b.value >= 0 && b.value < n_layers; }
  int layer_of(BlobId block_blob) const { return block_blob.value; }  // for blocks (is_block)
  bool valid(BlobId b) const { return b.value >= 0 && b.value < count(); }
  // Every blob id, blocks first: for (BlobId b : ids.all()).
  std::vector<BlobId> all() const {
    std::vector<BlobId> out;
    for (int i = 0; i < count(); ++i) out.emplace_back(i);
    return out;
  }
};

}  // namespace strata
