// Activation buffer sizing and carving: two accounted allocations (saved activations, workspace), each split
// into 64-byte-aligned views. Sizes depend only on the config, B, T and checkpointing.
#include "model/activations.h"

#include <algorithm>
#include <functional>

#include "core/check.h"

namespace strata {

static size_t up64(size_t floats) { return (floats + 15) / 16 * 16; }

// Floats of one block's intermediates (everything in BlockActs except x).
static size_t intermediate_floats(const ModelConfig& c, size_t N, size_t B, size_t T) {
  const size_t C = c.dim, Q = c.q_dim(), KV = c.kv_dim(), F = c.ffn_dim;
  return up64(N * C) * 3 + up64(N) * 2 + up64(N * Q) * 2 + up64(N * KV) * 2 + up64(B * c.n_heads * T) +
         up64(N * F) * 3;
}

static size_t grad_floats(const ModelConfig& c, size_t N) {
  const size_t C = c.dim, Q = c.q_dim(), KV = c.kv_dim(), F = c.ffn_dim;
  return up64(N * C) * 2 + up64(N * Q) * 2 + up64(N * KV) * 2 + up64(N * F) * 3;
}

// Floats one saved block input takes: N*C fp32, or N*C bf16 (half as many floats, rounded up).
static size_t input_floats(size_t N, size_t C, bool bf16_inputs) { return bf16_inputs ? (N * C + 1) / 2 : N * C; }

size_t Activations::saved_bytes(const ModelConfig& cfg, int B, int T, bool checkpointing, bool bf16_inputs) {
  const size_t N = (size_t)B * T, C = cfg.dim, L = cfg.n_layers;
  const size_t inter = intermediate_floats(cfg, N, B, T);
  const bool half = bf16_inputs && checkpointing;
  return (up64(input_floats(N, C, half)) * (L + 1) + (checkpointing ? 0 : inter * L)) * sizeof(float);
}

int Activations::loss_chunk_rows(const ModelConfig& cfg, int B, int T, int rows) {
  const size_t N = (size_t)B * T, row = (size_t)cfg.vocab * sizeof(float);
  const size_t want = rows > 0 ? (size_t)rows : kLossChunkBytes / row;
  return (int)std::max<size_t>(1, std::min(N, want));
}

size_t Activations::workspace_bytes(const ModelConfig& cfg, int B, int T, bool checkpointing, int loss_rows,
                                    bool bf16_inputs) {
  const size_t N = (size_t)B * T, C = cfg.dim, V = cfg.vocab, R = (size_t)loss_chunk_rows(cfg, B, T, loss_rows);
  const size_t inter = intermediate_floats(cfg, N, B, T);
  const size_t work_io = bf16_inputs && checkpointing ? 2 * up64(N * C) : 0;  // x_work, out_work
  return ((checkpointing ? inter : 0) + grad_floats(cfg, N) + up64(N * C) + up64(N) + up64(R * V) + up64(N) +
          up64(N) * 2 + work_io) *
         sizeof(float);
}

float* Activations::carve(size_t floats) {
  float* p = reinterpret_cast<float*>(cursor_);
  cursor_ += up64(floats) * sizeof(float);
  return p;
}

static void carve_block(BlockActs& a, const ModelConfig& c, size_t N, size_t B, size_t T,
                        const std::function<float*(size_t)>& carve) {
  const size_t C = c.dim, Q = c.q_dim(), KV = c.kv_dim(), F = c.ffn_dim;
  a.xn1 = carve(N * C);
  a.rstd1 = carve(N);
  a.q = carve(N * Q);
  a.k = carve(N * KV);
  a.v = carve(N * KV);
  a.att = carve(N * Q);
  a.lse = carve(B * c.n_heads * T);
  a.h = carve(N * C);
  a.xn2 = carve(N * C);
  a.rstd2 = carve(N);
  a.gate = carve(N * F);
  a.up = carve(N * F);
  a.act = carve(N * F);
}

Activations::Activations(Backend& backend, const ModelConfig& cfg, int B, int T, bool checkpointing, int loss_rows,
                         bool bf16_inputs)
    : B_(B),
      T_(T),
      checkpointing_(checkpointing),
      loss_rows_(loss_chunk_rows(cfg, B, T, loss_rows)),
      bf16_inputs_(bf16_inputs && checkpointing),
      cfg_(cfg) {
  STRATA_CHECK(B > 0 && T > 0, "batch size and sequence length must be > 0, got B=" + std::to_string(B) +
                                   " T=" + std::to_string(T));
  STRATA_CHECK(T <= cfg.max_seq_len, "sequence length " + std::to_string(T) + " exceeds the model's max_seq_len " +
                                         std::to_string(cfg.max_seq_len));
  const size_t N = (size_t)B * T, C = cfg.dim, V = cfg.vocab, L = cfg.n_layers;
  saved_ = backend.alloc(MemoryKind::Device, saved_bytes(cfg, B, T, checkpointing, bf16_inputs_),
                         MemoryCategory::Activations, 64);
  workspace_ = backend.alloc(MemoryKind::Device, workspace_bytes(cfg, B, T, checkpointing, loss_rows, bf16_inputs_),
                             MemoryCategory::Workspace, 64);
  (void)V;

  auto carve_fn = [this](size_t n) { return carve(n); };
  cursor_ = saved_.as<char>();
  for (size_t l = 0; l <= L; ++l) inputs_.push_back(carve(input_floats(N, C, bf16_inputs_)));
  sets_.resize(checkpointing ? 1 : L);
  if (!checkpointing)
    for (auto& s : sets_) carve_block(s, cfg, N, B, T, carve_fn);

  cursor_ = workspace_.as<char>();
  if (checkpointing) carve_block(sets_[0], cfg, N, B, T, carve_fn);
  const size_t Q = cfg.q_dim(), KV = cfg.kv_dim(), F = cfg.ffn_dim;
  grads_.dres = carve(N * C);
  grads_.dxn = carve(N * C);
  grads_.dq = carve(N * Q);
  grads_.datt = carve(N * Q);
  grads_.dk = carve(N * KV);
  grads_.dv = carve(N * KV);
  grads_.dgate = carve(N * F);
  grads_.dup = carve(N * F);
  grads_.dact = carve(N * F);
  xnf = carve(N * C);
  rstdf = carve(N);
  logits = carve((size_t)loss_rows_ * V);
  losses = carve(N);
  tokens = reinterpret_cast<int32_t*>(carve(N));
  targets = reinterpret_cast<int32_t*>(carve(N));
  if (bf16_inputs_) {
    x_work = carve(N * C);
    out_work = carve(N * C);
  }
}

BlockActs Activations::block(int l) const {
  BlockActs a = sets_[checkpointing_ ? 0 : l];
  a.x = bf16_inputs_ ? x_work : inputs_[l];
  return a;
}

float* Activations::block_input(int l) const {
  STRATA_CHECK(!bf16_inputs_, "block inputs are stored in bf16: use block_input_bf16()");
  return inputs_[l];
}

bf16* Activations::block_input_bf16(int l) const {
  STRATA_CHECK(bf16_inputs_, "block inputs are stored in fp32: use block_input()");
  return reinterpret_cast<bf16*>(inputs_[l]);
}

}  // namespace strata
