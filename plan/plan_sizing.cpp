// size_memory: the engine's allocations, replayed on paper. Device: weights (non-block blobs, resident blocks,
// promoted trained blocks), grads and AdamW moments of trained parts, activations and workspace (Activations' own
// sizing), streaming slots. Host: the host tier, parked optimizer state, staging. Disk: the disk tier.
#include <algorithm>
#include <cstdint>

#include "backend/cpu/cpu_backend.h"
#include "backend/cuda/cuda_backend.h"
#include "core/byte_size.h"
#include "core/check.h"
#include "model/activations.h"
#include "model/kv_cache.h"
#include "model/llama_decoder.h"
#include "plan/plan_parts.h"

namespace strata {
namespace {

constexpr int kDev = (int)MemoryKind::Device, kPinned = (int)MemoryKind::HostPinned, kHost = (int)MemoryKind::Host;
constexpr int W = (int)MemoryCategory::Weights, M = (int)MemoryCategory::MasterWeights,
              G = (int)MemoryCategory::Grads, O = (int)MemoryCategory::OptimizerState,
              A = (int)MemoryCategory::Activations, WS = (int)MemoryCategory::Workspace,
              S = (int)MemoryCategory::Streaming, KV = (int)MemoryCategory::KvCache;

size_t budget_of(const std::string& s, const char* key) { return s.empty() ? SIZE_MAX : parse_byte_size(s, key); }

// Embedding, final norm and head: their weights, and the grads, masters and moments of the trained ones.
void size_non_blocks(const PlanInputs& in, const ModelConfig& mc, int opt_tier, Plan& p) {
  const ModelLayout &lay = in.layout, &lay32 = in.layout32;
  // Gradients exist for every trained tensor; optimizer state (and host staging) only for those this rank owns.
  const bool emb = in.train_embedding && in.owns_embedding, head = in.train_head && in.owns_head,
             norm = in.train_final_norm && in.owns_final_norm;
  const size_t trained32 = (emb ? lay32.embedding.bytes : 0) + (head ? lay32.head.bytes : 0) +
                           (norm ? lay32.final_norm.bytes : 0);
  const size_t trained = (in.train_embedding ? lay.embedding.bytes : 0) + (in.train_head ? lay.head.bytes : 0) +
                         (in.train_final_norm ? lay.final_norm.bytes : 0);
  const size_t owned = (emb ? lay.embedding.bytes : 0) + (head ? lay.head.bytes : 0) + (norm ? lay.final_norm.bytes : 0);
  auto& dev = p.bytes[kDev];
  dev[W] = lay.embedding.bytes + lay.final_norm.bytes + lay.head.bytes;
  // fp32 engine: the working weights are the master weights; bf16: fp32 masters + moments of trained parameters.
  dev[G] = trained;
  p.bytes[opt_tier][O] = 2 * trained32;
  // fp32 masters exist for blobs holding bf16 tensors: not for the (all-F32) final norm. The host optimizer keeps one
  // of every trained blob (it has no other copy to update) and stages each blob's gradient and new weights.
  if (in.host_optimizer) {
    p.bytes[opt_tier][M] = trained32;
    if (in.cuda) p.bytes[kPinned][G] = owned;  // staging; cpu and ref update the device's (host) memory in place
  } else if (in.bf16) {
    p.bytes[opt_tier][M] = trained32 - (norm ? lay32.final_norm.bytes : 0);
  }
  // Both engines keep fp32 activations, except the bf16 engine's checkpointed block inputs (bf16).
  const int B = in.micro_batch, T = in.seq_len;
  dev[A] = Activations::saved_bytes(mc, B, T, in.checkpointing, in.bf16);
  dev[WS] = Activations::workspace_bytes(mc, B, T, in.checkpointing, 0, in.bf16);
  // Samples during training (model/llama_decoder.h): a cache of T positions per prompt and the decoder's workspace,
  // held while they are generated, next to the training buffers; its passes have Nd rows.
  size_t Nd = 0;
  if (in.sample_rows > 0) {
    const int pass = LlamaDecoder::pass_tokens_for(in.sample_rows, T);
    Nd = (size_t)in.sample_rows * pass;
    dev[KV] = KvCache::bytes(mc, in.sample_rows, T, in.bf16);
    dev[WS] += LlamaDecoder::workspace_bytes(mc, in.sample_rows, pass);
  }
  if (in.cuda && in.bf16) {
    // The CUDA backend's scratch: GEMM operands rounded to bf16 (at most 2 N (C + F) values) and the fp32 rows of one
    // weight gradient (at most kBf16WeightGradChunkFloats plus one row, never more than the largest weight).
    const size_t C = mc.dim, F = mc.ffn_dim;
    const size_t largest_weight = C * std::max({(size_t)mc.q_dim(), F, (size_t)mc.vocab});
    const size_t dw_rows = std::min(largest_weight, kBf16WeightGradChunkFloats + std::max(C, F));
    const size_t mib = size_t{1} << 20,
                 scratch = 2 * sizeof(uint16_t) * std::max((size_t)B * T, Nd) * (C + F) + sizeof(float) * dw_rows +
                           3 * 256;
    dev[WS] += (scratch + mib - 1) / mib * mib;
  }
  if (in.bf16 && in.cpu) {
    // The CPU backend's bf16 scratch (rounded activations, the widened weight): its largest linear, a block's with
    // N = B*T rows or the head's with the loss chunk's rows (cpu_bf16.cpp).
    const size_t N = (size_t)B * T, C = mc.dim, F = mc.ffn_dim, Q = mc.q_dim(), V = mc.vocab;
    const size_t R = (size_t)Activations::loss_chunk_rows(mc, B, T);
    p.op_scratch_bytes = std::max({bf16_linear_scratch_bytes(N, C, Q), bf16_linear_scratch_bytes(N, Q, C),
                                   bf16_linear_scratch_bytes(N, C, F), bf16_linear_scratch_bytes(N, F, C),
                                   bf16_linear_scratch_bytes(R, C, V),
                                   cpu_bf16_attention_scratch_bytes(B, T, mc.n_heads, mc.n_kv_heads, mc.head_dim())});
    if (Nd > 0)  // the decoder's linears (Nd rows) and its head (one row per prompt)
      p.op_scratch_bytes = std::max({p.op_scratch_bytes, bf16_linear_scratch_bytes(Nd, C, Q),
                                     bf16_linear_scratch_bytes(Nd, Q, C), bf16_linear_scratch_bytes(Nd, C, F),
                                     bf16_linear_scratch_bytes(Nd, F, C),
                                     bf16_linear_scratch_bytes((size_t)in.sample_rows, C, V)});
    dev[WS] += p.op_scratch_bytes;
  }
  if (!in.bf16 && in.cpu) {
    // The CPU backend's fp32 linears: oneDNN's scratchpad for the largest of them (cpu_matmul.cpp).
    const size_t N = (size_t)B * T, C = mc.dim, F = mc.ffn_dim, Q = mc.q_dim(), KVD = mc.kv_dim(), V = mc.vocab;
    const size_t R = (size_t)Activations::loss_chunk_rows(mc, B, T);
    p.op_scratch_bytes = std::max({f32_linear_scratch_bytes(N, C, Q), f32_linear_scratch_bytes(N, C, KVD),
                                   f32_linear_scratch_bytes(N, Q, C), f32_linear_scratch_bytes(N, C, F),
                                   f32_linear_scratch_bytes(N, F, C), f32_linear_scratch_bytes(R, C, V)});
    if (Nd > 0)
      p.op_scratch_bytes = std::max({p.op_scratch_bytes, f32_linear_scratch_bytes(Nd, C, Q),
                                     f32_linear_scratch_bytes(Nd, C, KVD), f32_linear_scratch_bytes(Nd, Q, C),
                                     f32_linear_scratch_bytes(Nd, C, F), f32_linear_scratch_bytes(Nd, F, C),
                                     f32_linear_scratch_bytes((size_t)in.sample_rows, C, V)});
    dev[WS] += p.op_scratch_bytes;
  }
}

// Where the blocks live, with the room the engine sees when it places them; a placement that cannot work makes the
// plan not fit (its reason is the verdict) and counts every block on disk.
void place_blocks(const PlanInputs& in, const RunConfig& cfg, Plan& p) {
  size_t used = 0;
  for (int c = 0; c < kNumMemoryCategories; ++c) used += p.bytes[kDev][c];
  const size_t dev_room =
      p.device_budget == SIZE_MAX ? SIZE_MAX : (p.device_budget > used ? p.device_budget - used : 0);
  try {
    // The engine places after the embedding's and head's state exist: the host room is what they leave.
    const size_t pinned = p.bytes[kPinned][M] + p.bytes[kPinned][G] + p.bytes[kPinned][O];
    const size_t host_room =
        p.host_budget == SIZE_MAX ? SIZE_MAX : (p.host_budget > pinned ? p.host_budget - pinned : 0);
    p.placement = decide_placement(cfg.memory.frozen_tier, in.n_layers, p.blob_bytes, dev_room, host_room, in.gamma,
                                   trained_block_bytes(p.blob_bytes, in.layout32.block.bytes, in.bf16,
                                                       in.host_optimizer, in.cuda),
                                   cfg.memory.prefetch);
  } catch (const StrataError& e) {
    p.fits = false;
    p.verdict = e.what();
    p.placement = {0, 0, in.n_layers};
  }
}

// Blocks: resident and promoted weights, grads and state of the gamma trained ones, streaming slots and staging,
// the tiers, and the parked state of `keep`.
void size_blocks(const PlanInputs& in, const RunConfig& cfg, int opt_tier, Plan& p) {
  const size_t blob = p.blob_bytes, blob32 = in.layout32.block.bytes;
  const int L = in.n_layers, gamma = in.gamma;
  auto& dev = p.bytes[kDev];
  auto& pinned = p.bytes[kPinned];
  const int streamed = L - p.placement.device;
  const int promoted = std::min(gamma, streamed);  // trained blocks that must come to the device (worst case)
  dev[W] += (size_t)(p.placement.device + promoted) * blob;
  dev[G] += (size_t)gamma * blob;
  const int owned = in.owned_blocks;  // blocks whose state this rank holds (all gamma unless sharded)
  p.bytes[opt_tier][O] += (size_t)owned * 2 * blob32;
  if (in.bf16 || in.host_optimizer) p.bytes[opt_tier][M] += (size_t)owned * blob32;
  if (in.host_optimizer && in.cuda) p.bytes[kPinned][G] += (size_t)owned * blob;  // gradient / new-weight staging
  if (streamed > 0) {
    dev[S] = (size_t)(cfg.memory.prefetch + 1) * blob;
    if (in.cuda) pinned[S] = (size_t)(cfg.memory.prefetch + 1) * blob;  // staging for tier -> device copies
    p.bytes[kHost][S] = blob;  // one blob of staging while placing and checkpointing
  }
  pinned[W] = (size_t)p.placement.host * blob;
  p.bytes[kDiskTier][W] = (size_t)p.placement.disk * blob;
  if (in.lisa && cfg.lisa.optimizer_state == InactiveStatePolicy::Keep && L > gamma) {
    // Parked moments (and fp32 masters) of the inactive blocks. The device optimizer copies a leaving block's state
    // to the host before an entering one's comes back (one more); the host optimizer leaves it where it is.
    const size_t parked = (size_t)(L - gamma + (in.host_optimizer ? 0 : 1));
    p.bytes[kPinned][O] += parked * 2 * blob32;
    if (in.bf16 || in.host_optimizer) p.bytes[kPinned][M] += parked * blob32;
  }
}

}  // namespace

void size_memory(const PlanInputs& in, const RunConfig& cfg, const PlanOptions& /*opts*/, Plan& p) {
  p.blob_bytes = in.layout.block.bytes;
  p.device_budget = budget_of(cfg.memory.device_budget, "memory.device_budget");
  p.host_budget = budget_of(cfg.memory.host_budget, "memory.host_budget");
  const int opt_tier = in.host_optimizer ? kPinned : kDev;
  size_non_blocks(in, p.model, opt_tier, p);
  place_blocks(in, cfg, p);
  size_blocks(in, cfg, opt_tier, p);
  for (int t = 0; t < kPlanTiers; ++t) {
    p.peak[t] = 0;
    for (int c = 0; c < kNumMemoryCategories; ++c) p.peak[t] += p.bytes[t][c];
  }
}

}  // namespace strata
