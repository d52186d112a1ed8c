// LlamaModel: a LLaMA-family decoder on a Backend: layer-major weights and grads, whole-model forward (loss) and
// backward, per-block trainability (LISA), optional per-block activation checkpointing.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "backend/backend.h"
#include "model/activations.h"
#include "memory/profiler.h"
#include "model/block_provider.h"
#include "model/model_config.h"
#include "model/param_layout.h"
#include "model/param_store.h"
#include "model/precision.h"

namespace strata {

inline constexpr int kIgnoreIndex = -100;

struct ModelOptions {
  bool checkpointing = false;   // keep only block inputs; recompute each block's intermediates in backward
  bool allocate_blocks = true;  // false: block blobs start unallocated (the caller places them, see BlockProvider)
  // BF16: weight matrices, embedding, head and their gradients in bf16 (GEMM inputs rounded to bf16, fp32 sums),
  // attention on bf16-rounded q/k/v; activations and norm weights stay fp32, except that with checkpointing the
  // saved block inputs (the residual stream between blocks) are bf16. The optimizer keeps fp32 masters.
  Precision precision = Precision::F32;
  int loss_chunk_rows = 0;  // rows per chunk of the fused head + cross-entropy; 0: automatic (see Activations)
};

class LlamaModel {
 public:
  LlamaModel(Backend& backend, const ModelConfig& cfg, ModelOptions opts = {});

  const ModelConfig& config() const { return cfg_; }
  const ModelLayout& layout() const { return layout_; }
  // The all-fp32 twin of layout(): optimizer moments and master weights.
  const ModelLayout& master_layout() const { return master_layout_; }
  Precision precision() const { return opts_.precision; }
  ParamStore& params() { return params_; }
  ParamStore& grads() { return grads_; }
  const BlobIds& ids() const { return params_.ids(); }
  Backend& backend() { return backend_; }

  // ---- trainability -----------------------------------------------------------------------------------------
  // Grad blobs exist only for trainable parts; freezing releases them. With tied embeddings the embedding and
  // head are one matrix: setting either flag sets both.
  void set_block_trainable(int layer, bool trainable);
  void set_embedding_trainable(bool trainable);
  void set_head_trainable(bool trainable);
  void set_final_norm_trainable(bool trainable);
  void set_all_trainable(bool trainable);
  bool block_trainable(int layer) const { return block_trainable_[layer]; }
  bool embedding_trainable() const { return embed_trainable_; }
  bool head_trainable() const { return head_trainable_; }
  bool final_norm_trainable() const { return final_norm_trainable_; }
  // Lowest block the backward pass runs through (L when it runs through none).
  int lowest_backward_block() const;

  // ---- placement ---------------------------------------------------------------------------------------------
  // Blocks whose blob is not allocated in params() are read through `provider` (null: every block must be
  // resident). Trainable blocks must be resident.
  void set_block_provider(BlockProvider* provider) { provider_ = provider; }
  // Per-block forward / recompute / backward spans go to `profiler` (null: none).
  void set_profiler(Profiler* profiler) { prof_ = profiler; }
  // Called by backward() with each trained blob once its last gradient contribution is queued (head, final norm,
  // blocks top-down, embedding last), so a host-side optimizer can copy it off the device early; empty: none.
  void set_gradient_ready(std::function<void(BlobId)> hook) { grad_ready_ = std::move(hook); }
  bool block_resident(int layer) const { return params_.has(ids().block(layer)); }
  // Allocates activations for (B, T) now, so their bytes are accounted before placement decisions.
  void reserve_activations(int B, int T) { ensure_activations(B, T); }

  // ---- compute ----------------------------------------------------------------------------------------------
  // tokens, targets: host arrays [B*T]; targets[i] is the label of position i (already shifted) or kIgnoreIndex.
  // Returns the mean loss over non-ignored targets (0 when every target is ignored). Throws, naming the batch row
  // and position, on a token or target outside [0, vocab).
  float forward(const int32_t* tokens, const int32_t* targets, int B, int T);
  // Accumulates d(loss * grad_scale)/dparam into grads() for trainable parts. Requires a preceding forward.
  // Overwrites the logits (used as dlogits scratch).
  void backward(float grad_scale = 1.0f);
  void zero_grads() { grads_.zero_all(); }

  int valid_targets() const { return valid_targets_; }
  // Copies the logits [B*T, V] of the last forward to host (only valid before backward).
  void copy_logits(float* host) const;

 private:
  friend class LlamaDecoder;  // generation reuses the weight views, block streaming and linear dispatch
  // Norm weights are always fp32; matrices are fp32 or bf16 (layout_), hence untyped.
  struct BlockW {
    const float* attn_norm;
    const void *wq, *wk, *wv, *wo;
    const float* mlp_norm;
    const void *wgate, *wup, *wdown;
  };
  struct BlockG {
    float* attn_norm;
    void *wq, *wk, *wv, *wo;
    float* mlp_norm;
    void *wgate, *wup, *wdown;
  };
  bool is_bf16() const { return opts_.precision == Precision::BF16; }
  // Precision-dispatching wrappers of the backend's linear and embedding ops (w, dw, table, dtable untyped).
  void linear_fwd(float* out, const float* x, const void* w, int N, int IC, int OC) const;
  void linear_bwd(float* dx, void* dw, const float* dout, const float* x, const void* w, int N, int IC,
                  int OC) const;
  AttentionShape attention_shape() const;
  // bf16 block inputs (checkpointing in the bf16 engine): x -> storage of block input l, and x_work = the rounded
  // values; load_block_input widens block input l into x_work (fp32 inputs: returns the saved input itself).
  void store_block_input(int l, const float* x);
  const float* load_block_input(int l);
  BlockW block_weights(int l) const;
  BlockW acquire_block(int l);  // resident view, or the provider's streamed copy
  void release_block(int l);
  void announce_pass(int from, int to);  // tells the provider which streamed blocks come, from -> to inclusive
  BlockG block_grads(int l);
  const void* embedding_w() const;
  const void* head_w() const;
  void* embedding_g();
  void* head_g();

  void ensure_activations(int B, int T);
  void block_forward(int l, const BlockW& w, const BlockActs& a, float* out);
  void block_backward(int l, const BlockW& w, const BlockActs& a, bool need_dx);
  void sync_grad_blob(BlobId blob, bool trainable);

  Backend& backend_;
  ModelConfig cfg_;
  ModelOptions opts_;
  ModelLayout layout_;
  ModelLayout master_layout_;
  ParamStore params_;
  ParamStore grads_;
  std::unique_ptr<Activations> acts_;
  BlockProvider* provider_ = nullptr;
  Profiler* prof_ = nullptr;
  std::function<void(BlobId)> grad_ready_;
  std::vector<bool> block_trainable_;
  bool embed_trainable_ = true, head_trainable_ = true, final_norm_trainable_ = true;
  int valid_targets_ = 0;
  bool logits_valid_ = false;
  bool have_forward_ = false;
};

}  // namespace strata
