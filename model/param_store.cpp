// ParamStore implementation: per-blob allocation through the backend (so every byte is accounted) and views.
#include "model/param_store.h"

#include "core/check.h"

namespace strata {

ParamStore::ParamStore(Backend& backend, const ModelLayout& layout, MemoryKind kind, MemoryCategory category)
    : backend_(backend), layout_(layout), kind_(kind), category_(category), ids_{layout.n_layers} {
  blobs_.resize(ids_.count());
}

const BlobLayout& ParamStore::layout_of(int blob) const { return layout_.of_blob(blob); }

std::string ParamStore::blob_name(int blob) const {
  if (blob < ids_.n_layers) return "block " + std::to_string(blob);
  if (blob == ids_.embedding()) return "embedding";
  if (blob == ids_.final_norm()) return "final norm";
  return "head";
}

void ParamStore::allocate(int blob) {
  const size_t bytes = layout_of(blob).bytes;
  if (blobs_[blob] || bytes == 0) return;
  blobs_[blob] = backend_.alloc(kind_, bytes, category_, kBlobAlign);
}

void ParamStore::allocate_all() {
  for (int b = 0; b < ids_.count(); ++b) allocate(b);
}

void ParamStore::release(int blob) { blobs_[blob].reset(); }

void ParamStore::zero(int blob) {
  if (blobs_[blob]) backend_.fill_zero(blobs_[blob].data(), blobs_[blob].bytes());
}

void ParamStore::zero_all() {
  for (int b = 0; b < ids_.count(); ++b) zero(b);
}

const TensorSpec& ParamStore::tensor_spec(int blob, int index) const {
  const BlobLayout& l = layout_of(blob);
  STRATA_CHECK(index >= 0 && index < (int)l.tensors.size(),
               "tensor index " + std::to_string(index) + " out of range for " + blob_name(blob));
  return l.tensors[index];
}

void* ParamStore::tensor(int blob, int index) const {
  const TensorSpec& t = tensor_spec(blob, index);
  STRATA_CHECK(blobs_[blob], blob_name(blob) + " is not allocated in this parameter store");
  return static_cast<char*>(blobs_[blob].data()) + t.offset;
}

float* ParamStore::f32(int blob, int index) const {
  const TensorSpec& t = tensor_spec(blob, index);
  STRATA_CHECK(t.dtype == DType::F32, blob_name(blob) + " tensor " + t.name + " is " + to_string(t.dtype) +
                                          ", but fp32 compute needs F32 storage");
  return static_cast<float*>(tensor(blob, index));
}

bf16* ParamStore::bf16s(int blob, int index) const {
  const TensorSpec& t = tensor_spec(blob, index);
  STRATA_CHECK(t.dtype == DType::BF16, blob_name(blob) + " tensor " + t.name + " is " + to_string(t.dtype) +
                                           ", not BF16");
  return static_cast<bf16*>(tensor(blob, index));
}

double ParamStore::sum_squares(int blob) const {
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
