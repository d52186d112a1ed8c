// ModelConfig: the shape of a LLaMA-family decoder (dims, heads, vocab, RoPE, norm) and its validation.
// validate() throws StrataError naming the offending field and the allowed values.
#pragma once
#include <cstdint>
#include <string>

namespace strata {

struct ModelConfig {
  int dim = 0;          // C, hidden size
  int n_layers = 0;     // L, transformer blocks
  int n_heads = 0;      // NH, query heads
  int n_kv_heads = 0;   // NKV, key/value heads (grouped-query attention); divides n_heads
  int ffn_dim = 0;      // F, SwiGLU intermediate size
  int vocab = 0;        // V
  float rope_theta = 10000.0f;
  float norm_eps = 1e-5f;
  bool tie_embeddings = false;  // lm_head shares the token embedding matrix
  int max_seq_len = 2048;

  int head_dim() const { return dim / n_heads; }   // HS
  int q_dim() const { return n_heads * head_dim(); }
  int kv_dim() const { return n_kv_heads * head_dim(); }

  void validate() const;
  std::string describe() const;  // one line: "L=3 C=64 NH=4 NKV=2 F=160 V=97 ..."
  int64_t num_parameters() const;
};

}  // namespace strata
