// ParamStore: the blobs of one copy of a model's parameters (weights, or grads, or optimizer moments) on a
// backend, one Buffer per block plus embedding / final norm / head. Blobs can be allocated and released one by one.
#pragma once
#include <string>
#include <vector>

#include "backend/backend.h"
#include "core/bf16.h"
#include "model/param_layout.h"

namespace strata {

class ParamStore {
 public:
  ParamStore(Backend& backend, const ModelLayout& layout, MemoryKind kind, MemoryCategory category);

  const BlobIds& ids() const { return ids_; }
  const BlobLayout& layout_of(BlobId blob) const;
  std::string blob_name(BlobId blob) const;  // "block 3", "embedding", "final norm", "head"

  void allocate(BlobId blob);  // no-op if already allocated; blobs of 0 bytes (tied head) stay empty
  void allocate_all();
  void release(BlobId blob);
  bool has(BlobId blob) const { return (bool)blobs_[blob.value]; }
  void zero(BlobId blob);
  void zero_all();  // every allocated blob

  void* blob(BlobId blob) const { return blobs_[blob.value].data(); }
  size_t blob_bytes(BlobId blob) const { return layout_of(blob).bytes; }
  // fp32 view of tensor `index` of a blob's table (throws if the blob is missing or the dtype is not F32).
  float* f32(BlobId blob, int index) const;
  // bf16 view (throws if the blob is missing or the dtype is not BF16).
  bf16* bf16s(BlobId blob, int index) const;
  // Untyped view, whatever the dtype; tensor_spec() says what it holds.
  void* tensor(BlobId blob, int index) const;
  const TensorSpec& tensor_spec(BlobId blob, int index) const;
  // Sum of squares of every tensor of `blob` (F32 and BF16 alike; padding excluded), deterministic; blocks.
  double sum_squares(BlobId blob) const;

 private:
  Backend& backend_;
  const ModelLayout& layout_;
  MemoryKind kind_;
  MemoryCategory category_;
  BlobIds ids_;
  std::vector<Buffer> blobs_;
};

}  // namespace strata
