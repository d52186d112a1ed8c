// ParamStore: the blobs of one copy of a model's parameters (weights, or grads, or optimizer moments) on a
// backend, one Buffer per block plus embedding / final norm / head. Blobs can be allocated and released one by one.
#pragma once
#include <string>
#include <vector>

#include "backend/backend.h"
#include "core/bf16.h"
#include "model/param_layout.h"

namespace strata {

// Blob ids: 0..L-1 are transformer blocks, then embedding, final norm, head.
struct BlobIds {
  int n_layers;
  int block(int l) const { return l; }
  int embedding() const { return n_layers; }
  int final_norm() const { return n_layers + 1; }
  int head() const { return n_layers + 2; }
  int count() const { return n_layers + 3; }
};

class ParamStore {
 public:
  ParamStore(Backend& backend, const ModelLayout& layout, MemoryKind kind, MemoryCategory category);

  const BlobIds& ids() const { return ids_; }
  const BlobLayout& layout_of(int blob) const;
  std::string blob_name(int blob) const;  // "block 3", "embedding", "final norm", "head"

  void allocate(int blob);  // no-op if already allocated; blobs of 0 bytes (tied head) stay empty
  void allocate_all();
  void release(int blob);
  bool has(int blob) const { return (bool)blobs_[blob]; }
  void zero(int blob);
  void zero_all();  // every allocated blob

  void* blob(int blob) const { return blobs_[blob].data(); }
  size_t blob_bytes(int blob) const { return layout_of(blob).bytes; }
  // fp32 view of tensor `index` of a blob's table (throws if the blob is missing or the dtype is not F32).
  float* f32(int blob, int index) const;
  // bf16 view (throws if the blob is missing or the dtype is not BF16).
  bf16* bf16s(int blob, int index) const;
  // Untyped view, whatever the dtype; tensor_spec() says what it holds.
  void* tensor(int blob, int index) const;
  const TensorSpec& tensor_spec(int blob, int index) const;
  // Sum of squares of every tensor of `blob` (F32 and BF16 alike; padding excluded), deterministic; blocks.
  double sum_squares(int blob) const;

 private:
  Backend& backend_;
  const ModelLayout& layout_;
  MemoryKind kind_;
  MemoryCategory category_;
  BlobIds ids_;
  std::vector<Buffer> blobs_;
};

}  // namespace strata
