// Layer-major parameter layout: one contiguous blob per transformer block (4 KiB-aligned size) holding its
// tensors at fixed offsets, described by a TensorSpec table; plus blobs for the embedding, final norm and head.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "model/blob_id.h"
#include "model/model_config.h"

namespace strata {

struct TensorSpec {
  std::string name;            // HF name relative to the blob, e.g. "self_attn.q_proj.weight"
  std::vector<int64_t> shape;  // row-major
  DType dtype = DType::F32;
  size_t offset = 0;           // bytes from the blob start
  int64_t numel() const;
  size_t bytes() const { return (size_t)numel() * dtype_size(dtype); }
};

// Byte alignment of tensors inside a blob and of blob sizes.
inline constexpr size_t kTensorAlign = 256;
inline constexpr size_t kBlobAlign = 4096;

struct BlobLayout {
  std::vector<TensorSpec> tensors;
  size_t bytes = 0;  // multiple of kBlobAlign
  const TensorSpec& find(const std::string& name) const;  // throws naming the tensor when absent
};

// Index of each tensor in a block's TensorSpec table (the table order).
enum BlockTensor : int {
  kAttnNorm = 0,  // input_layernorm.weight          [C]
  kWq,            // self_attn.q_proj.weight         [NH*HS, C]
  kWk,            // self_attn.k_proj.weight         [NKV*HS, C]
  kWv,            // self_attn.v_proj.weight         [NKV*HS, C]
  kWo,            // self_attn.o_proj.weight         [C, NH*HS]
  kMlpNorm,       // post_attention_layernorm.weight [C]
  kWGate,         // mlp.gate_proj.weight            [F, C]
  kWUp,           // mlp.up_proj.weight              [F, C]
  kWDown,         // mlp.down_proj.weight            [C, F]
  kNumBlockTensors
};

struct ModelLayout {
  BlobLayout block;       // same table for every block; HF prefix "model.layers.{i}."
  BlobLayout embedding;   // "model.embed_tokens.weight" [V, C]
  BlobLayout final_norm;  // "model.norm.weight" [C]
  BlobLayout head;        // "lm_head.weight" [V, C]; empty (bytes 0) when embeddings are tied
  int n_layers = 0;
  size_t total_bytes() const;
  // The table of blob `blob` in BlobIds numbering: 0..L-1 blocks, L embedding, L+1 final norm, L+2 head.
  const BlobLayout& of_blob(BlobId blob) const;
};

// `dtype` is the storage of the weight matrices and the embedding/head; norm weights (1-D) are always F32 (they are
// tiny and the RMSNorm ops read fp32). F32 gives an all-fp32 layout, BF16 the mixed-precision engine's.
ModelLayout make_model_layout(const ModelConfig& cfg, DType dtype);

}  // namespace strata
