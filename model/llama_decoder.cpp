// LlamaDecoder: the block forward of LlamaModel with positions per token and attention over the KV cache; rows of
// a batch that have fewer tokens in a pass fill it with padding slots that write only the cache's spare position.
#include "model/llama_decoder.h"

#include <algorithm>
#include <string>

#include "core/check.h"

namespace strata {

// Carves the workspace views from `base` (null: only counts) and returns the bytes used; 64-byte aligned pieces.
size_t LlamaDecoder::carve(char* base, const ModelConfig& cfg, size_t rows, size_t N, Work* w) {
  size_t at = 0;
  auto take = [&](size_t bytes) {
    char* p = base ? base + at : nullptr;
    at += (bytes + 63) / 64 * 64;
    return p;
  };
  const size_t C = cfg.dim, Q = cfg.q_dim(), KV = cfg.kv_dim(), F = cfg.ffn_dim, V = cfg.vocab;
  Work p{};
  auto f = [&](size_t n) { return reinterpret_cast<float*>(take(n * sizeof(float))); };
  p.x = f(N * C), p.out = f(N * C), p.h = f(N * C), p.xn = f(N * C), p.rstd = f(N);
  p.q = f(N * Q), p.att = f(N * Q), p.k = f(N * KV), p.v = f(N * KV);
  p.gate = f(N * F), p.up = f(N * F), p.act = f(N * F);
  p.xl = f(rows * C), p.xnl = f(rows * C), p.rstdl = f(rows), p.logits = f(rows * V);
  p.tokens = reinterpret_cast<int32_t*>(take(N * sizeof(int32_t)));
  p.pos = reinterpret_cast<int32_t*>(take(N * sizeof(int32_t)));
  if (w) *w = p;
  return at;
}

int LlamaDecoder::pass_tokens_for(int rows, int capacity, int pass_tokens) {
  if (pass_tokens > 0) return std::min(pass_tokens, capacity);
  return std::max(1, std::min(capacity, kPassRows / std::max(rows, 1)));
}

size_t LlamaDecoder::workspace_bytes(const ModelConfig& cfg, int rows, int pass_tokens) {
  return carve(nullptr, cfg, rows, (size_t)rows * pass_tokens, nullptr);
}

size_t LlamaDecoder::device_bytes(const ModelConfig& cfg, int rows, int capacity, bool bf16, int pass_tokens) {
  if (capacity <= 0) capacity = cfg.max_seq_len;
  return KvCache::bytes(cfg, rows, capacity, bf16) +
         workspace_bytes(cfg, rows, pass_tokens_for(rows, capacity, pass_tokens));
}

LlamaDecoder::LlamaDecoder(LlamaModel& model, int rows, int capacity, int pass_tokens)
    : model_(model),
      be_(model.backend()),
      pass_tokens_(pass_tokens_for(rows, capacity > 0 ? capacity : model.config().max_seq_len, pass_tokens)),
      cache_(model.backend(), model.config(), rows, capacity > 0 ? capacity : model.config().max_seq_len,
             model.precision() == Precision::BF16),
      lengths_(rows, 0) {
  STRATA_CHECK(capacity <= model.config().max_seq_len,
               "decoder capacity " + std::to_string(capacity) + " exceeds the model's max_seq_len " +
                   std::to_string(model.config().max_seq_len));
  const ModelConfig& cfg = model.config();
  buf_ = be_.alloc(MemoryKind::Device, workspace_bytes(cfg, rows, pass_tokens_), MemoryCategory::Workspace, 64);
  carve(buf_.as<char>(), cfg, rows, (size_t)rows * pass_tokens_, &w_);
}

void LlamaDecoder::reset() { std::fill(lengths_.begin(), lengths_.end(), 0); }

void LlamaDecoder::append(const std::vector<std::vector<int32_t>>& tokens, float* last_logits,
                          std::vector<float>* all_logits) {
  const int R = rows(), V = model_.config().vocab;
  STRATA_CHECK((int)tokens.size() == R, "append: " + std::to_string(tokens.size()) + " token lists for " +
                                            std::to_string(R) + " rows");
  size_t total = 0;
  std::vector<size_t> first(R);  // row r's first logits row in all_logits
  for (int r = 0; r < R; ++r) {
    const size_t n = tokens[r].size();
    STRATA_USER_CHECK(lengths_[r] + n <= (size_t)capacity(),
                      "sequence " + std::to_string(r + 1) + ": " + std::to_string(lengths_[r]) + " tokens plus " +
                          std::to_string(n) + " more exceed the context of " + std::to_string(capacity()) +
                          " positions (the model's max_position_embeddings); shorten the prompt or --max-new-tokens");
    for (size_t i = 0; i < n; ++i)
      STRATA_USER_CHECK(tokens[r][i] >= 0 && tokens[r][i] < V,
                        "token id " + std::to_string(tokens[r][i]) + " (sequence " + std::to_string(r + 1) + ", token " +
                            std::to_string(i + 1) + ") is outside the model's vocabulary [0, " + std::to_string(V) + ")");
    first[r] = total;
    total += n;
  }
  if (all_logits) all_logits->assign(total * V, 0.0f);
  std::vector<size_t> done(R, 0);
  std::vector<float> picked;
  for (;;) {
    int Tq = 0;
    for (int r = 0; r < R; ++r) Tq = std::max(Tq, (int)std::min<size_t>(pass_tokens_, tokens[r].size() - done[r]));
    if (Tq == 0) break;
    std::vector<int32_t> tok((size_t)R * Tq, 0), pos((size_t)R * Tq, cache_.padding_position());
    std::vector<int> n(R);
    for (int r = 0; r < R; ++r) {
      n[r] = (int)std::min<size_t>(Tq, tokens[r].size() - done[r]);
      for (int t = 0; t < n[r]; ++t) {
        tok[(size_t)r * Tq + t] = tokens[r][done[r] + t];
        pos[(size_t)r * Tq + t] = lengths_[r] + t;
      }
    }
    pass(tok, pos, Tq);
    const size_t C = model_.config().dim;
    if (all_logits)
      for (int r = 0; r < R; ++r)
        if (n[r]) head(w_.x + (size_t)r * Tq * C, n[r], all_logits->data() + (first[r] + done[r]) * V);
    if (last_logits) {
      std::vector<int> ending;  // rows whose last token is in this pass
      for (int r = 0; r < R; ++r)
        if (n[r] && done[r] + n[r] == tokens[r].size()) {
          be_.copy(w_.xl + ending.size() * C, w_.x + ((size_t)r * Tq + n[r] - 1) * C, sizeof(float) * C);
          ending.push_back(r);
        }
      picked.resize(ending.size() * V);
      if (!ending.empty()) head(w_.xl, (int)ending.size(), picked.data());
      for (size_t i = 0; i < ending.size(); ++i)
        std::copy_n(picked.data() + i * V, V, last_logits + (size_t)ending[i] * V);
    }
    for (int r = 0; r < R; ++r) {
      lengths_[r] += n[r];
      done[r] += n[r];
    }
  }
}

void LlamaDecoder::pass(const std::vector<int32_t>& tok, const std::vector<int32_t>& pos, int Tq) {
  const ModelConfig& cfg = model_.config();
  const int N = rows() * Tq, C = cfg.dim, V = cfg.vocab;
  be_.copy(w_.tokens, tok.data(), sizeof(int32_t) * N);
  be_.copy(w_.pos, pos.data(), sizeof(int32_t) * N);
  if (model_.is_bf16())
    be_.embedding_forward_bf16(w_.x, w_.tokens, static_cast<const bf16*>(model_.embedding_w()), N, C, V);
  else
    be_.embedding_forward(w_.x, w_.tokens, static_cast<const float*>(model_.embedding_w()), N, C, V);
  model_.announce_pass(0, cfg.n_layers - 1);
  for (int l = 0; l < cfg.n_layers; ++l) {
    const LlamaModel::BlockW w = model_.acquire_block(l);
    block(l, w, Tq);
    model_.release_block(l);
    std::swap(w_.x, w_.out);
  }
}

void LlamaDecoder::block(int l, const LlamaModel::BlockW& w, int Tq) {
  const ModelConfig& cfg = model_.config();
  const int R = rows(), N = R * Tq, C = cfg.dim, Q = cfg.q_dim(), KV = cfg.kv_dim(), F = cfg.ffn_dim;
  const int HS = cfg.head_dim();
  be_.rmsnorm_forward(w_.xn, w_.rstd, w_.x, w.attn_norm, N, C, cfg.norm_eps);
  model_.linear_fwd(w_.q, w_.xn, w.wq, N, C, Q);
  model_.linear_fwd(w_.k, w_.xn, w.wk, N, C, KV);
  model_.linear_fwd(w_.v, w_.xn, w.wv, N, C, KV);
  be_.rope_forward(w_.q, w_.q, w_.pos, R, Tq, cfg.n_heads, HS, cfg.rope_theta);
  be_.rope_forward(w_.k, w_.k, w_.pos, R, Tq, cfg.n_kv_heads, HS, cfg.rope_theta);
  const CachedAttentionShape s{R, Tq, cache_.stride(), cfg.n_heads, cfg.n_kv_heads, HS, cache_.bf16()};
  be_.attention_cached(w_.att, w_.q, w_.k, w_.v, cache_.k(l), cache_.v(l), w_.pos, s);
  model_.linear_fwd(w_.out, w_.att, w.wo, N, Q, C);
  be_.add(w_.h, w_.x, w_.out, (size_t)N * C);
  be_.rmsnorm_forward(w_.xn, w_.rstd, w_.h, w.mlp_norm, N, C, cfg.norm_eps);
  model_.linear_fwd(w_.gate, w_.xn, w.wgate, N, C, F);
  model_.linear_fwd(w_.up, w_.xn, w.wup, N, C, F);
  be_.swiglu_forward(w_.act, w_.gate, w_.up, (size_t)N * F);
  model_.linear_fwd(w_.out, w_.act, w.wdown, N, F, C);
  be_.add(w_.out, w_.out, w_.h, (size_t)N * C);
}

void LlamaDecoder::head(const float* x, int n, float* out) {
  const ModelConfig& cfg = model_.config();
  const int C = cfg.dim, V = cfg.vocab;
  const float* norm_w = model_.params().f32(model_.ids().final_norm(), 0);
  for (int i = 0; i < n; i += rows()) {
    const int m = std::min(rows(), n - i);
    be_.rmsnorm_forward(w_.xnl, w_.rstdl, x + (size_t)i * C, norm_w, m, C, cfg.norm_eps);
    model_.linear_fwd(w_.logits, w_.xnl, model_.head_w(), m, C, V);
    be_.copy(out + (size_t)i * V, w_.logits, sizeof(float) * m * V);
  }
}

}  // namespace strata
