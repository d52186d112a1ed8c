// Builds the layer-major TensorSpec tables from a ModelConfig.
// Tensor offsets are kTensorAlign-aligned; blob sizes round up to kBlobAlign (one DMA transfer / NVMe extent).
#include "model/param_layout.h"

#include "core/check.h"

namespace strata {

int64_t TensorSpec::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

const TensorSpec& BlobLayout::find(const std::string& name) const {
  for (const auto& t : tensors)
    if (t.name == name) return t;
  STRATA_FAIL("no tensor named '" + name + "' in this blob layout");
}

static size_t round_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

static BlobLayout make_blob(std::vector<std::pair<std::string, std::vector<int64_t>>> specs, DType dtype) {
  BlobLayout b;
  size_t off = 0;
  for (auto& [name, shape] : specs) {
    TensorSpec t{name, shape, shape.size() == 1 ? DType::F32 : dtype, off};
    off = round_up(off + t.bytes(), kTensorAlign);
    b.tensors.push_back(std::move(t));
  }
  b.bytes = round_up(off, kBlobAlign);
  return b;
}

ModelLayout make_model_layout(const ModelConfig& cfg, DType dtype) {
  cfg.validate();
  const int64_t C = cfg.dim, F = cfg.ffn_dim, V = cfg.vocab, Q = cfg.q_dim(), KV = cfg.kv_dim();
  ModelLayout m;
  m.n_layers = cfg.n_layers;
  m.block = make_blob({{"input_layernorm.weight", {C}},
                       {"self_attn.q_proj.weight", {Q, C}},
                       {"self_attn.k_proj.weight", {KV, C}},
                       {"self_attn.v_proj.weight", {KV, C}},
                       {"self_attn.o_proj.weight", {C, Q}},
                       {"post_attention_layernorm.weight", {C}},
                       {"mlp.gate_proj.weight", {F, C}},
                       {"mlp.up_proj.weight", {F, C}},
                       {"mlp.down_proj.weight", {C, F}}},
                      dtype);
  m.embedding = make_blob({{"model.embed_tokens.weight", {V, C}}}, dtype);
  m.final_norm = make_blob({{"model.norm.weight", {C}}}, dtype);
  if (!cfg.tie_embeddings) m.head = make_blob({{"lm_head.weight", {V, C}}}, dtype);
  return m;
}

const BlobLayout& ModelLayout::of_blob(BlobId blob) const {
  const int b = blob.value;
  STRATA_CHECK(b >= 0 && b < n_layers + 3, "blob id " + std::to_string(b) + " out of range");
  if (b < n_layers) return block;
  if (b == n_layers) return embedding;
  if (b == n_layers + 1) return final_norm;
  return head;
}

size_t ModelLayout::total_bytes() const {
  return (size_t)n_layers * block.bytes + embedding.bytes + final_norm.bytes + head.bytes;
}

}  // namespace strata
