// Activation and gradient-scratch buffers for one (B, T) shape of a LLaMA model, llm.c-style: each field is a
// view with its shape alongside. With checkpointing only block inputs persist; intermediates share one set.
#pragma once
#include <vector>

#include "backend/backend.h"
#include "core/bf16.h"
#include "model/model_config.h"

namespace strata {

// Tensors one block's forward produces and its backward reads. N = B*T.
struct BlockActs {
  float* x = nullptr;      // [N, C]       block input (residual stream), always kept
  float* xn1 = nullptr;    // [N, C]       input_layernorm output
  float* rstd1 = nullptr;  // [N]
  float* q = nullptr;      // [N, NH*HS]   after RoPE
  float* k = nullptr;      // [N, NKV*HS]  after RoPE
  float* v = nullptr;      // [N, NKV*HS]
  float* att = nullptr;    // [N, NH*HS]   attention output before o_proj
  float* lse = nullptr;    // [B, NH, T]   attention row logsumexp
  float* h = nullptr;      // [N, C]       residual after attention
  float* xn2 = nullptr;    // [N, C]       post_attention_layernorm output
  float* rstd2 = nullptr;  // [N]
  float* gate = nullptr;   // [N, F]
  float* up = nullptr;     // [N, F]
  float* act = nullptr;    // [N, F]       silu(gate) * up
};

// Gradient scratch reused by every block's backward.
struct GradScratch {
  float* dres = nullptr;   // [N, C]       gradient of the residual stream (block output, then block input)
  float* dxn = nullptr;    // [N, C]       gradient of a norm output
  float* dq = nullptr;     // [N, NH*HS]
  float* dk = nullptr;     // [N, NKV*HS]
  float* dv = nullptr;     // [N, NKV*HS]
  float* datt = nullptr;   // [N, NH*HS]
  float* dgate = nullptr;  // [N, F]
  float* dup = nullptr;    // [N, F]
  float* dact = nullptr;   // [N, F]
};

class Activations {
 public:
  // bf16_inputs (with checkpointing only): the saved block inputs are stored in bf16 (half the bytes); the block
  // being computed reads an fp32 copy (x_work) and writes its output to out_work.
  Activations(Backend& backend, const ModelConfig& cfg, int B, int T, bool checkpointing, int loss_rows = 0,
              bool bf16_inputs = false);

  // Rows of logits computed at a time by the fused, chunked head + cross-entropy: as many as fit kLossChunkBytes of
  // fp32 logits (at least 1, at most N), so a 32K vocabulary at 4096 tokens needs 64 MiB instead of 512 MiB.
  static constexpr size_t kLossChunkBytes = size_t{64} << 20;
  // `rows` > 0 overrides the automatic choice (tests exercise many chunks with it).
  static int loss_chunk_rows(const ModelConfig& cfg, int B, int T, int rows = 0);
  // The bytes the two allocations take (the planner uses the same functions).
  static size_t saved_bytes(const ModelConfig& cfg, int B, int T, bool checkpointing,
                            bool bf16_inputs = false);  // Activations
  static size_t workspace_bytes(const ModelConfig& cfg, int B, int T, bool checkpointing, int loss_rows = 0,
                                bool bf16_inputs = false);  // Workspace

  int B() const { return B_; }
  int T() const { return T_; }
  int loss_rows() const { return loss_rows_; }  // rows of `logits`
  bool checkpointing() const { return checkpointing_; }

  // Block l's tensors; with checkpointing, every l shares the intermediates (only x differs; with bf16 inputs x is
  // x_work for every l).
  BlockActs block(int l) const;
  float* block_input(int l) const;  // [N, C], l in [0, L]; l = L is the last block's output (fp32 inputs only)
  bool bf16_inputs() const { return bf16_inputs_; }
  bf16* block_input_bf16(int l) const;  // [N, C] bf16 storage (bf16 inputs only)
  float* x_work = nullptr;              // [N, C] fp32 input of the block being computed (bf16 inputs only)
  float* out_work = nullptr;            // [N, C] fp32 output of the block being computed (bf16 inputs only)
  const GradScratch& grads() const { return grads_; }

  float* xnf = nullptr;      // [N, C]  final norm output
  float* rstdf = nullptr;    // [N]
  float* logits = nullptr;   // [R, V]  one chunk of R = loss_chunk_rows() rows (dlogits in place in backward)
  float* losses = nullptr;   // [N]
  int32_t* tokens = nullptr;   // [N]
  int32_t* targets = nullptr;  // [N]

 private:
  float* carve(size_t floats);

  int B_, T_;
  bool checkpointing_;
  int loss_rows_;
  bool bf16_inputs_;
  ModelConfig cfg_;
  Buffer saved_;      // Activations: block inputs (+ intermediates of every block without checkpointing)
  Buffer workspace_;  // Workspace: recompute set, gradient scratch, head tensors
  std::vector<BlockActs> sets_;
  std::vector<float*> inputs_;
  GradScratch grads_;
  char* cursor_ = nullptr;
};

}  // namespace strata
