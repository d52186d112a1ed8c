// LlamaDecoder: generation on a LlamaModel's weights: a KV cache of `rows` sequences, prompts appended in batched
// passes (each row with its own length), then one token per row per step. Blocks come resident or streamed.
#pragma once
#include <cstdint>
#include <vector>

#include "backend/backend.h"
#include "model/kv_cache.h"
#include "model/llama_model.h"

namespace strata {

class LlamaDecoder {
 public:
  // Tokens per row in one pass when none is given: passes of at most kPassRows rows (B * tokens) bound the
  // workspace, so a long prompt is processed in several passes of the same result.
  static constexpr int kPassRows = 512;
  // `capacity`: positions per row (0: the model's max_seq_len); `pass_tokens`: tokens per row per pass (0: auto).
  LlamaDecoder(LlamaModel& model, int rows, int capacity = 0, int pass_tokens = 0);

  static int pass_tokens_for(int rows, int capacity, int pass_tokens = 0);
  // Device bytes of the workspace (Workspace) and of the cache (KvCache) for this shape; the planner uses them.
  static size_t workspace_bytes(const ModelConfig& cfg, int rows, int pass_tokens);
  static size_t device_bytes(const ModelConfig& cfg, int rows, int capacity, bool bf16, int pass_tokens = 0);

  int rows() const { return cache_.rows(); }
  int capacity() const { return cache_.capacity(); }
  int vocab() const { return model_.config().vocab; }
  int length(int row) const { return lengths_[row]; }
  // Forgets every row's tokens (the cache is overwritten as rows grow again).
  void reset();

  // Appends tokens[r] to row r (an empty list leaves row r as it is). last_logits: host [rows, V], row r set to the
  // logits after its last appended token (rows given no tokens are left untouched); may be null. all_logits: when
  // non-null, resized to [total appended, V]: the logits after every appended token, row by row in order.
  // Throws a UserError naming the row when its tokens would pass capacity(); an id outside the vocabulary throws.
  void append(const std::vector<std::vector<int32_t>>& tokens, float* last_logits,
              std::vector<float>* all_logits = nullptr);

 private:
  struct Work {              // N = rows * pass_tokens
    float *x, *out, *h;      // [N, C] residual stream in, block output, residual after attention
    float *xn, *rstd;        // [N, C], [N]
    float *q, *att;          // [N, NH*HS]
    float *k, *v;            // [N, NKV*HS]
    float *gate, *up, *act;  // [N, F]
    float *xl, *xnl, *rstdl; // [rows, C], [rows, C], [rows]: the rows whose logits are wanted
    float* logits;           // [rows, V]
    int32_t *tokens, *pos;   // [N]
  };
  static size_t carve(char* base, const ModelConfig& cfg, size_t rows, size_t N, Work* w);
  void pass(const std::vector<int32_t>& tokens, const std::vector<int32_t>& pos, int Tq);
  void block(int l, const LlamaModel::BlockW& w, int Tq);
  // Final norm and head on `n` rows of `x` (device), logits to host `out` [n, V].
  void head(const float* x, int n, float* out);

  LlamaModel& model_;
  Backend& be_;
  int pass_tokens_;
  KvCache cache_;
  Buffer buf_;  // Device / Workspace
  Work w_{};
  std::vector<int> lengths_;
};

}  // namespace strata
