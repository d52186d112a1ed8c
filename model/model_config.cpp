// ModelConfig validation and description.
// Every message names the field, the value given, and what would be accepted.
#include "model/model_config.h"

#include <cmath>
#include <cstdio>

#include "core/check.h"

namespace strata {

static void require_positive(const char* field, int64_t v) {
  STRATA_USER_CHECK(v > 0, std::string("model config: ") + field + " must be > 0, got " + std::to_string(v));
}

void ModelConfig::validate() const {
  require_positive("dim", dim);
  require_positive("n_layers", n_layers);
  require_positive("n_heads", n_heads);
  require_positive("n_kv_heads", n_kv_heads);
  require_positive("ffn_dim", ffn_dim);
  require_positive("vocab", vocab);
  require_positive("max_seq_len", max_seq_len);
  STRATA_USER_CHECK(dim % n_heads == 0, "model config: dim (" + std::to_string(dim) +
                                            ") must be divisible by n_heads (" + std::to_string(n_heads) + ")");
  STRATA_USER_CHECK(n_heads % n_kv_heads == 0, "model config: n_kv_heads (" + std::to_string(n_kv_heads) +
                                                   ") must divide n_heads (" + std::to_string(n_heads) + ")");
  STRATA_USER_CHECK(head_dim() % 2 == 0, "model config: head size dim/n_heads = " + std::to_string(head_dim()) +
                                             " must be even for rotary embeddings");
  STRATA_USER_CHECK(head_dim() <= 1024, "model config: head size dim/n_heads = " + std::to_string(head_dim()) +
                                            " is above the supported maximum of 1024");
  STRATA_USER_CHECK(std::isfinite(rope_theta) && rope_theta > 0.0f,
                    "model config: rope_theta must be a finite number > 0, got " + std::to_string(rope_theta));
  STRATA_USER_CHECK(std::isfinite(norm_eps) && norm_eps > 0.0f,
                    "model config: norm_eps must be a finite number > 0, got " + std::to_string(norm_eps));
}

std::string ModelConfig::describe() const {
  char buf[256];
  std::snprintf(buf, sizeof buf, "L=%d C=%d NH=%d NKV=%d HS=%d F=%d V=%d theta=%g eps=%g tied=%s max_seq_len=%d",
                n_layers, dim, n_heads, n_kv_heads, dim / (n_heads ? n_heads : 1), ffn_dim, vocab, rope_theta,
                norm_eps, tie_embeddings ? "yes" : "no", max_seq_len);
  return buf;
}

int64_t ModelConfig::num_parameters() const {
  const int64_t C = dim, F = ffn_dim, V = vocab;
  const int64_t block = 2 * C + C * q_dim() + 2 * C * (int64_t)kv_dim() + (int64_t)q_dim() * C + 3 * C * F;
  return n_layers * block + V * C + C + (tie_embeddings ? 0 : V * C);
}

}  // namespace strata
