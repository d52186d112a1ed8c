// LlamaModel forward and backward over backend ops, following HF LlamaForCausalLM exactly:
// x -> [RMSNorm -> q,k,v -> RoPE -> causal GQA -> o_proj -> +res -> RMSNorm -> SwiGLU MLP -> +res] x L -> norm -> head.
#include "model/llama_model.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "core/check.h"

namespace strata {

LlamaModel::LlamaModel(Backend& backend, const ModelConfig& cfg, ModelOptions opts)
    : backend_(backend),
      cfg_(cfg),
      opts_(opts),
      layout_(make_model_layout(cfg, opts.precision == Precision::BF16 ? DType::BF16 : DType::F32)),
      master_layout_(make_model_layout(cfg, DType::F32)),
      params_(backend, layout_, MemoryKind::Device, MemoryCategory::Weights),
      grads_(backend, layout_, MemoryKind::Device, MemoryCategory::Grads),
      block_trainable_(cfg.n_layers, true) {
  // Embedding, final norm and head are always resident; blocks only when the caller does not place them.
  for (BlobId b : ids().all())
    if (opts.allocate_blocks || !ids().is_block(b)) params_.allocate(b);
  for (int l = 0; l < cfg_.n_layers; ++l) set_block_trainable(l, opts.allocate_blocks);
  set_embedding_trainable(true);
  set_head_trainable(true);
  set_final_norm_trainable(true);
}

// ---- trainability ---------------------------------------------------------------------------------------------

void LlamaModel::sync_grad_blob(BlobId blob, bool trainable) {
  if (trainable) {
    if (!grads_.has(blob)) {
      grads_.allocate(blob);
      grads_.zero(blob);
    }
  } else {
    grads_.release(blob);
  }
}

void LlamaModel::set_block_trainable(int layer, bool trainable) {
  STRATA_CHECK(layer >= 0 && layer < cfg_.n_layers, "block index " + std::to_string(layer) +
                                                         " out of range: the model has " +
                                                         std::to_string(cfg_.n_layers) + " blocks");
  STRATA_CHECK(!trainable || block_resident(layer), "block " + std::to_string(layer) +
                                                       " must be resident on the device to be trained");
  block_trainable_[layer] = trainable;
  sync_grad_blob(ids().block(layer), trainable);
}

void LlamaModel::set_embedding_trainable(bool trainable) {
  embed_trainable_ = trainable;
  if (cfg_.tie_embeddings) head_trainable_ = trainable;
  sync_grad_blob(ids().embedding(), trainable);
}

void LlamaModel::set_head_trainable(bool trainable) {
  if (cfg_.tie_embeddings) return set_embedding_trainable(trainable);
  head_trainable_ = trainable;
  sync_grad_blob(ids().head(), trainable);
}

void LlamaModel::set_final_norm_trainable(bool trainable) {
  final_norm_trainable_ = trainable;
  sync_grad_blob(ids().final_norm(), trainable);
}

void LlamaModel::set_all_trainable(bool trainable) {
  for (int l = 0; l < cfg_.n_layers; ++l) set_block_trainable(l, trainable);
  set_embedding_trainable(trainable);
  set_head_trainable(trainable);
  set_final_norm_trainable(trainable);
}

int LlamaModel::lowest_backward_block() const {
  if (embed_trainable_) return 0;
  for (int l = 0; l < cfg_.n_layers; ++l)
    if (block_trainable_[l]) return l;
  return cfg_.n_layers;
}

// ---- views ----------------------------------------------------------------------------------------------------

LlamaModel::BlockW LlamaModel::block_weights(int l) const {
  const BlobId b = ids().block(l);
  auto t = [&](int i) { return params_.tensor(b, i); };
  return {params_.f32(b, kAttnNorm), t(kWq), t(kWk), t(kWv), t(kWo), params_.f32(b, kMlpNorm),
          t(kWGate), t(kWUp), t(kWDown)};
}

LlamaModel::BlockW LlamaModel::acquire_block(int l) {
  if (block_resident(l)) return block_weights(l);
  STRATA_CHECK(provider_, "block " + std::to_string(l) + " is not resident and the model has no block provider");
  const char* base = static_cast<const char*>(provider_->acquire(l));
  const auto& t = layout_.block.tensors;
  auto at = [&](int i) { return static_cast<const void*>(base + t[i].offset); };
  auto norm = [&](int i) { return reinterpret_cast<const float*>(base + t[i].offset); };
  return {norm(kAttnNorm), at(kWq), at(kWk), at(kWv), at(kWo), norm(kMlpNorm), at(kWGate), at(kWUp), at(kWDown)};
}

void LlamaModel::release_block(int l) {
  if (!block_resident(l)) provider_->release(l);
}

void LlamaModel::announce_pass(int from, int to) {
  if (!provider_) return;
  std::vector<int> order;
  for (int l = from; from <= to ? l <= to : l >= to; l += from <= to ? 1 : -1)
    if (!block_resident(l)) order.push_back(l);
  provider_->begin_pass(order);
}

LlamaModel::BlockG LlamaModel::block_grads(int l) {
  if (!block_trainable_[l]) return {};
  const BlobId b = ids().block(l);
  auto t = [&](int i) { return grads_.tensor(b, i); };
  return {grads_.f32(b, kAttnNorm), t(kWq), t(kWk), t(kWv), t(kWo), grads_.f32(b, kMlpNorm),
          t(kWGate), t(kWUp), t(kWDown)};
}

const void* LlamaModel::embedding_w() const { return params_.tensor(ids().embedding(), 0); }
const void* LlamaModel::head_w() const {
  return cfg_.tie_embeddings ? embedding_w() : params_.tensor(ids().head(), 0);
}
void* LlamaModel::embedding_g() { return embed_trainable_ ? grads_.tensor(ids().embedding(), 0) : nullptr; }
void* LlamaModel::head_g() {
  if (!head_trainable_) return nullptr;
  return cfg_.tie_embeddings ? grads_.tensor(ids().embedding(), 0) : grads_.tensor(ids().head(), 0);
}

void LlamaModel::linear_fwd(float* out, const float* x, const void* w, int N, int IC, int OC) const {
  if (is_bf16()) backend_.linear_forward_bf16(out, x, static_cast<const bf16*>(w), N, IC, OC);
  else backend_.linear_forward(out, x, static_cast<const float*>(w), N, IC, OC);
}

void LlamaModel::linear_bwd(float* dx, void* dw, const float* dout, const float* x, const void* w, int N, int IC,
                            int OC) const {
  if (is_bf16())
    backend_.linear_backward_bf16(dx, static_cast<bf16*>(dw), dout, x, static_cast<const bf16*>(w), N, IC, OC);
  else
    backend_.linear_backward(dx, static_cast<float*>(dw), dout, x, static_cast<const float*>(w), N, IC, OC);
}

void LlamaModel::store_block_input(int l, const float* x) {
  Activations& A = *acts_;
  const size_t n = (size_t)A.B() * A.T() * cfg_.dim;
  backend_.convert_f32_to_bf16(A.block_input_bf16(l), x, n);
  backend_.convert_bf16_to_f32(A.x_work, A.block_input_bf16(l), n);  // the next block reads the rounded values
}

const float* LlamaModel::load_block_input(int l) {
  Activations& A = *acts_;
  if (!A.bf16_inputs()) return A.block_input(l);
  backend_.convert_bf16_to_f32(A.x_work, A.block_input_bf16(l), (size_t)A.B() * A.T() * cfg_.dim);
  return A.x_work;
}

AttentionShape LlamaModel::attention_shape() const {
  return AttentionShape{acts_->B(), acts_->T(), cfg_.n_heads, cfg_.n_kv_heads, cfg_.head_dim(), is_bf16()};
}

// ---- forward --------------------------------------------------------------------------------------------------

void LlamaModel::ensure_activations(int B, int T) {
  if (acts_ && acts_->B() == B && acts_->T() == T) return;
  acts_.reset();  // free the old shape's buffers before allocating the new ones
  acts_ = std::make_unique<Activations>(backend_, cfg_, B, T, opts_.checkpointing, opts_.loss_chunk_rows, is_bf16());
}

void LlamaModel::block_forward(int l, const BlockW& w, const BlockActs& a, float* out) {
  (void)l;
  const int B = acts_->B(), T = acts_->T(), N = B * T;
  const int C = cfg_.dim, Q = cfg_.q_dim(), KV = cfg_.kv_dim(), F = cfg_.ffn_dim, HS = cfg_.head_dim();
  Backend& be = backend_;
  be.rmsnorm_forward(a.xn1, a.rstd1, a.x, w.attn_norm, N, C, cfg_.norm_eps);
  linear_fwd(a.q, a.xn1, w.wq, N, C, Q);
  linear_fwd(a.k, a.xn1, w.wk, N, C, KV);
  linear_fwd(a.v, a.xn1, w.wv, N, C, KV);
  be.rope_forward(a.q, a.q, nullptr, B, T, cfg_.n_heads, HS, cfg_.rope_theta);
  be.rope_forward(a.k, a.k, nullptr, B, T, cfg_.n_kv_heads, HS, cfg_.rope_theta);
  be.attention_forward(a.att, a.lse, a.q, a.k, a.v, attention_shape());
  linear_fwd(out, a.att, w.wo, N, Q, C);  // out used as scratch for o_proj(att)
  be.add(a.h, a.x, out, (size_t)N * C);
  be.rmsnorm_forward(a.xn2, a.rstd2, a.h, w.mlp_norm, N, C, cfg_.norm_eps);
  linear_fwd(a.gate, a.xn2, w.wgate, N, C, F);
  linear_fwd(a.up, a.xn2, w.wup, N, C, F);
  be.swiglu_forward(a.act, a.gate, a.up, (size_t)N * F);
  linear_fwd(out, a.act, w.wdown, N, F, C);
  be.add(out, out, a.h, (size_t)N * C);
}

float LlamaModel::forward(const int32_t* tokens, const int32_t* targets, int B, int T) {
  STRATA_CHECK(B > 0 && T > 0, "forward: batch size and sequence length must be > 0");
  STRATA_CHECK(T <= cfg_.max_seq_len, "forward: sequence length " + std::to_string(T) +
                                          " exceeds the model's max_seq_len " + std::to_string(cfg_.max_seq_len));
  const int N = B * T, V = cfg_.vocab, C = cfg_.dim;
  int valid = 0;
  for (int i = 0; i < N; ++i) {
    STRATA_CHECK(tokens[i] >= 0 && tokens[i] < V, "token id " + std::to_string(tokens[i]) + " at batch row " +
                                                      std::to_string(i / T) + ", position " + std::to_string(i % T) +
                                                      " is outside the vocabulary [0, " + std::to_string(V) + ")");
    if (targets[i] == kIgnoreIndex) continue;
    STRATA_CHECK(targets[i] >= 0 && targets[i] < V,
                 "target id " + std::to_string(targets[i]) + " at batch row " + std::to_string(i / T) +
                     ", position " + std::to_string(i % T) + " is outside the vocabulary [0, " + std::to_string(V) +
                     ") and is not the ignore index " + std::to_string(kIgnoreIndex));
    ++valid;
  }
  ensure_activations(B, T);
  Activations& A = *acts_;
  backend_.copy(A.tokens, tokens, sizeof(int32_t) * N);
  backend_.copy(A.targets, targets, sizeof(int32_t) * N);

  // With bf16 block inputs the residual stream is rounded to bf16 at every block boundary (stored, then read back),
  // so the backward's recompute sees exactly the inputs the forward used.
  const bool half = A.bf16_inputs();
  float* x = half ? A.x_work : A.block_input(0);
  if (is_bf16()) backend_.embedding_forward_bf16(x, A.tokens, static_cast<const bf16*>(embedding_w()), N, C, V);
  else backend_.embedding_forward(x, A.tokens, static_cast<const float*>(embedding_w()), N, C, V);
  if (half) store_block_input(0, x);
  announce_pass(0, cfg_.n_layers - 1);
  for (int l = 0; l < cfg_.n_layers; ++l) {
    const BlockW w = acquire_block(l);
    Profiler::Scope span(prof_, "forward", "compute", l);
    float* out = half ? A.out_work : A.block_input(l + 1);
    block_forward(l, w, A.block(l), out);
    if (half) store_block_input(l + 1, out);
    else x = out;
    release_block(l);
  }
  Profiler::Scope head_span(prof_, "head + loss", "compute", -1);
  backend_.rmsnorm_forward(A.xnf, A.rstdf, x, params_.f32(ids().final_norm(), 0), N, C,
                           cfg_.norm_eps);
  // Head and loss in chunks of R rows: logits never exist for all N rows at once.
  const int R = A.loss_rows();
  for (int r0 = 0; r0 < N; r0 += R) {
    const int rows = std::min(R, N - r0);
    linear_fwd(A.logits, A.xnf + (size_t)r0 * C, head_w(), rows, C, V);
    backend_.cross_entropy_forward(A.losses + r0, A.logits, A.targets + r0, rows, V, kIgnoreIndex);
  }

  std::vector<float> losses(N);
  backend_.copy(losses.data(), A.losses, sizeof(float) * N);
  double sum = 0.0;  // fixed order: deterministic
  for (int i = 0; i < N; ++i) sum += losses[i];
  valid_targets_ = valid;
  logits_valid_ = true;
  have_forward_ = true;
  return valid ? (float)(sum / valid) : 0.0f;
}

void LlamaModel::copy_logits(float* host) const {
  STRATA_CHECK(logits_valid_, "logits are only available after forward() and before backward()");
  const Activations& A = *acts_;
  const int N = A.B() * A.T(), C = cfg_.dim, V = cfg_.vocab, R = A.loss_rows();
  if (R >= N) return backend_.copy(host, A.logits, sizeof(float) * N * V);  // one chunk: the forward's logits
  // Several chunks: the forward kept only the last, so recompute each from the final norm output.
  for (int r0 = 0; r0 < N; r0 += R) {
    const int rows = std::min(R, N - r0);
    linear_fwd(A.logits, A.xnf + (size_t)r0 * C, head_w(), rows, C, V);
    backend_.copy(host + (size_t)r0 * V, A.logits, sizeof(float) * rows * V);
  }
}

// ---- backward -------------------------------------------------------------------------------------------------

void LlamaModel::block_backward(int l, const BlockW& w, const BlockActs& a, bool need_dx) {
  const BlockG g = block_grads(l);
  const GradScratch& s = acts_->grads();
  const int B = acts_->B(), T = acts_->T(), N = B * T;
  const int C = cfg_.dim, Q = cfg_.q_dim(), KV = cfg_.kv_dim(), F = cfg_.ffn_dim, HS = cfg_.head_dim();
  Backend& be = backend_;
  // s.dres holds dL/d(block output). MLP half: out = h + down(silu(gate(xn2)) * up(xn2)).
  be.fill_zero(s.dact, sizeof(float) * N * F);
  be.fill_zero(s.dgate, sizeof(float) * N * F);
  be.fill_zero(s.dup, sizeof(float) * N * F);
  be.fill_zero(s.dxn, sizeof(float) * N * C);
  linear_bwd(s.dact, g.wdown, s.dres, a.act, w.wdown, N, F, C);
  be.swiglu_backward(s.dgate, s.dup, s.dact, a.gate, a.up, (size_t)N * F);
  linear_bwd(s.dxn, g.wgate, s.dgate, a.xn2, w.wgate, N, C, F);
  linear_bwd(s.dxn, g.wup, s.dup, a.xn2, w.wup, N, C, F);
  be.rmsnorm_backward(s.dres, g.mlp_norm, s.dxn, a.h, w.mlp_norm, a.rstd2, N, C);  // dres = dL/dh
  // Attention half: h = x + o(attn(rope(q(xn1)), rope(k(xn1)), v(xn1))).
  be.fill_zero(s.datt, sizeof(float) * N * Q);
  be.fill_zero(s.dq, sizeof(float) * N * Q);
  be.fill_zero(s.dk, sizeof(float) * N * KV);
  be.fill_zero(s.dv, sizeof(float) * N * KV);
  linear_bwd(s.datt, g.wo, s.dres, a.att, w.wo, N, Q, C);
  be.attention_backward(s.dq, s.dk, s.dv, s.datt, a.q, a.k, a.v, a.att, a.lse, attention_shape());
  be.rope_backward(s.dq, s.dq, nullptr, B, T, cfg_.n_heads, HS, cfg_.rope_theta);
  be.rope_backward(s.dk, s.dk, nullptr, B, T, cfg_.n_kv_heads, HS, cfg_.rope_theta);
  // dL/dxn1 is needed for the input gradient and for the norm weight's gradient; skip it when neither is.
  float* dxn = (need_dx || g.attn_norm) ? s.dxn : nullptr;
  if (dxn) be.fill_zero(dxn, sizeof(float) * N * C);
  linear_bwd(dxn, g.wq, s.dq, a.xn1, w.wq, N, C, Q);
  linear_bwd(dxn, g.wk, s.dk, a.xn1, w.wk, N, C, KV);
  linear_bwd(dxn, g.wv, s.dv, a.xn1, w.wv, N, C, KV);
  if (dxn) be.rmsnorm_backward(need_dx ? s.dres : nullptr, g.attn_norm, dxn, a.x, w.attn_norm, a.rstd1, N, C);
}

void LlamaModel::backward(float grad_scale) {
  STRATA_CHECK(have_forward_ && logits_valid_, "backward() needs a forward() first (once per forward)");
  Activations& A = *acts_;
  const int N = A.B() * A.T(), V = cfg_.vocab, C = cfg_.dim, L = cfg_.n_layers;
  const int lowest = lowest_backward_block();
  const bool blocks_needed = lowest < L;
  const bool need_dxnf = final_norm_trainable_ || blocks_needed;
  logits_valid_ = false;
  if (!head_trainable_ && !need_dxnf) return;  // nothing trainable

  const GradScratch& s = A.grads();
  std::optional<Profiler::Scope> head_span(std::in_place, prof_, "head + loss backward", "compute", -1);
  const float scale = valid_targets_ ? grad_scale / (float)valid_targets_ : 0.0f;
  float* dxnf = need_dxnf ? s.dxn : nullptr;
  if (dxnf) backend_.fill_zero(dxnf, sizeof(float) * N * C);
  // Fused, chunked head + cross-entropy backward: each chunk's logits are recomputed (unless one chunk holds all
  // rows: the forward's are still there), turned into dlogits in place, and pushed through the head.
  const int R = A.loss_rows();
  for (int r0 = 0; r0 < N; r0 += R) {
    const int rows = std::min(R, N - r0);
    const float* xnf = A.xnf + (size_t)r0 * C;
    if (R < N) linear_fwd(A.logits, xnf, head_w(), rows, C, V);
    float* dlogits = A.logits;  // in place
    backend_.cross_entropy_backward(dlogits, A.logits, A.targets + r0, scale, rows, V, kIgnoreIndex);
    linear_bwd(dxnf ? dxnf + (size_t)r0 * C : nullptr, head_g(), dlogits, xnf, head_w(), rows, C, V);
  }
  if (head_trainable_ && !cfg_.tie_embeddings && grad_ready_) grad_ready_(ids().head());
  if (!need_dxnf) return;
  float* dnorm = final_norm_trainable_ ? grads_.f32(ids().final_norm(), 0) : nullptr;
  backend_.fill_zero(s.dres, sizeof(float) * N * C);
  backend_.rmsnorm_backward(blocks_needed ? s.dres : nullptr, dnorm, s.dxn, load_block_input(L),
                            params_.f32(ids().final_norm(), 0), A.rstdf, N, C);
  if (dnorm && grad_ready_) grad_ready_(ids().final_norm());

  head_span.reset();
  if (lowest < L) announce_pass(L - 1, lowest);
  for (int l = L - 1; l >= lowest; --l) {
    const BlockActs a = A.block(l);
    const BlockW w = acquire_block(l);
    if (A.checkpointing()) {
      Profiler::Scope span(prof_, "recompute", "compute", l);
      load_block_input(l);  // a.x (x_work) with bf16 inputs
      // Recompute the intermediates; the output is the same as the forward's, so it may overwrite it.
      block_forward(l, w, a, A.bf16_inputs() ? A.out_work : A.block_input(l + 1));
    }
    const bool need_dx = l > 0 ? l > lowest : embed_trainable_;
    {
      Profiler::Scope span(prof_, block_trainable_[l] ? "backward" : "backward (dX only)", "compute", l);
      block_backward(l, w, a, need_dx);
    }
    if (block_trainable_[l] && grad_ready_) grad_ready_(ids().block(l));
    release_block(l);
  }
  if (!embed_trainable_) return;
  if (is_bf16()) backend_.embedding_backward_bf16(static_cast<bf16*>(embedding_g()), s.dres, A.tokens, N, C, V);
  else backend_.embedding_backward(static_cast<float*>(embedding_g()), s.dres, A.tokens, N, C, V);
  if (grad_ready_) grad_ready_(ids().embedding());
}

}  // namespace strata
