// ParamStore implementation: per-blob allocation through the backend (so every byte is accounted) and views.
#include "model/param_store.h"

#include "core/check.h"

namespace strata {

ParamStore::ParamStore(Backend& backend, const ModelLayout& layout, MemoryKind kind, MemoryCategory category)
    : backend_(backend), layout_(layout), kind_(kind), category_(category), ids_{layout.n_layers} {
  blobs_.resize(ids_.count());
}

const BlobLayout& ParamStore::layout_of(BlobId blob) const { return layout_.of_blob(blob); }

std::string ParamStore::blob_name(BlobId blob) const {
  if (ids_.is_block(blob)) return "block " + std::to_string(ids_.layer_of(blob));
  if (blob == ids_.embedding()) return "embedding";
  if (blob == ids_.final_norm()) return "final norm";
  return "head";
}

void ParamStore::allocate(BlobId blob) {
  const size_t bytes = layout_of(blob).bytes;
  if (blobs_[blob.value] || bytes == 0) return;
  blobs_[blob.value] = backend_.alloc(kind_, bytes, category_, kBlobAlign);
}

void ParamStore::allocate_all() {
  for (BlobId b : ids_.all()) allocate(b);
}

void ParamStore::release(BlobId blob) { blobs_[blob.value].reset(); }

void ParamStore::zero(BlobId blob) {
  if (blobs_[blob.value]) backend_.fill_zero(blobs_[blob.value].data(), blobs_[blob.value].bytes());
}

void ParamStore::zero_all() {
  for (BlobId b : ids_.all()) zero(b);
}

const TensorSpec& ParamStore::tensor_spec(BlobId blob, int index) const {
  const BlobLayout& l = layout_of(blob);
  STRATA_CHECK(index >= 0 && index < (int)l.tensors.size(),
               "tensor index " + std::to_string(index) + " out of range for " + blob_name(blob));
  return l.tensors[index];
}

void* ParamStore::tensor(BlobId blob, int index) const {
  const TensorSpec& t = tensor_spec(blob, index);
  STRATA_CHECK(blobs_[blob.value], blob_name(blob) + " is not allocated in this parameter store");
  return static_cast<char*>(blobs_[blob.value].data()) + t.offset;
}

float* ParamStore::f32(BlobId blob, int index) const {
  const TensorSpec& t = tensor_spec(blob, index);
  STRATA_CHECK(t.dtype == DType::F32, blob_name(blob) + " tensor " + t.name + " is " + to_string(t.dtype) +
                                          ", but fp32 compute needs F32 storage");
  return static_cast<float*>(tensor(blob, index));
}

bf16* ParamStore::bf16s(BlobId blob, int index) const {
  const TensorSpec& t = tensor_spec(blob, index);
  STRATA_CHECK(t.dtype == DType::BF16, blob_name(blob) + " tensor " + t.name + " is " + to_string(t.dtype) +
                                           ", not BF16");
  return static_cast<bf16*>(tensor(blob, index));
}

double ParamStore::sum_squares(BlobId blob) const {
  const BlobLayout& l = layout_of(blob);
  double total = 0.0;
  for (int i = 0; i < (int)l.tensors.size(); ++i) {
    const size_t n = (size_t)l.tensors[i].numel();
    total += l.tensors[i].dtype == DType::BF16 ? backend_.sum_squares_bf16(bf16s(blob, i), n)
                                               : backend_.sum_squares(f32(blob, i), n);
  }
  return total;
}

}  // namespace strata
