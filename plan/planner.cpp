// make_plan: the engine's allocations, replayed on paper. Device: weights (non-block blobs, resident blocks,
// promoted trained blocks), grads and AdamW moments of trained parts, activations and workspace (Activations'
// own sizing), streaming slots. Host: the host tier, parked optimizer state, staging. Disk: the disk tier.
#include "plan/planner.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/byte_size.h"
#include "memory/memory_tracker.h"
#include "model/activations.h"
#include "model/precision.h"
#include "model/param_layout.h"

namespace strata {

const char* plan_tier_name(int tier) {
  return tier == kDiskTier ? "disk" : to_string(static_cast<MemoryKind>(tier));
}

namespace {

constexpr int kDev = (int)MemoryKind::Device, kPinned = (int)MemoryKind::HostPinned, kHost = (int)MemoryKind::Host;
constexpr int W = (int)MemoryCategory::Weights, M = (int)MemoryCategory::MasterWeights,
              G = (int)MemoryCategory::Grads, O = (int)MemoryCategory::OptimizerState,
              A = (int)MemoryCategory::Activations, WS = (int)MemoryCategory::Workspace,
              S = (int)MemoryCategory::Streaming;

size_t budget_of(const std::string& s, const char* key) { return s.empty() ? SIZE_MAX : parse_byte_size(s, key); }

std::string gb(double bytes) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f GB", bytes / 1e9);
  return b;
}

}  // namespace

static Plan plan_core(const RunConfig& cfg, const ModelConfig& mc, const PlanOptions& opts, bool suggest);

Plan make_plan(const RunConfig& cfg, const ModelConfig& mc, const PlanOptions& opts) {
  return plan_core(cfg, mc, opts, true);
}

static Plan plan_core(const RunConfig& cfg, const ModelConfig& mc, const PlanOptions& opts, bool suggest) {
  const std::string precision = opts.precision.empty() ? cfg.train.precision : opts.precision;
  const bool bf16 =
      parse_precision(precision, opts.precision.empty() ? "train.precision" : "--precision") == Precision::BF16;
  const bool cuda = cfg.memory.backend.rfind("cuda", 0) == 0;  // streamed blocks pass through pinned staging
  STRATA_CHECK(!opts.optimizer_on_host || bf16, "the host-side optimizer is planned for the bf16 (CUDA) engine only");
  Plan p;
  p.model = mc;
  const int L = mc.n_layers;
  const bool lisa = cfg.train.mode == "lisa";
  const int gamma = lisa ? std::min(cfg.lisa.layers, L) : L;
  const ModelLayout lay = make_model_layout(mc, bf16 ? DType::BF16 : DType::F32);
  const ModelLayout lay32 = make_model_layout(mc, DType::F32);
  const size_t blob = lay.block.bytes, blob32 = lay32.block.bytes;
  p.blob_bytes = blob;
  const int B = cfg.train.micro_batch, T = cfg.data.seq_len;
  const bool ckpt = cfg.memory.activation_checkpointing;

  // Non-block parts and whether they train.
  const bool tied = mc.tie_embeddings;
  const bool train_emb = !lisa || cfg.lisa.train_embedding || (tied && cfg.lisa.train_head);
  const bool train_head = !tied && (!lisa || cfg.lisa.train_head);
  const bool train_norm = !lisa || cfg.lisa.train_final_norm;
  const size_t nonblock = lay.embedding.bytes + lay.final_norm.bytes + lay.head.bytes;
  const size_t trained_nonblock32 = (train_emb ? lay32.embedding.bytes : 0) + (train_head ? lay32.head.bytes : 0) +
                                    (train_norm ? lay32.final_norm.bytes : 0);
  const size_t trained_nonblock = (train_emb ? lay.embedding.bytes : 0) + (train_head ? lay.head.bytes : 0) +
                                   (train_norm ? lay.final_norm.bytes : 0);
  auto& dev = p.bytes[kDev];
  auto& pinned = p.bytes[kPinned];
  dev[W] = nonblock;
  // fp32 engine: the working weights are the master weights; bf16: fp32 masters + moments of trained parameters.
  const int opt_tier = opts.optimizer_on_host ? kPinned : kDev;
  dev[G] = trained_nonblock;
  p.bytes[opt_tier][O] = 2 * trained_nonblock32;
  // fp32 masters exist for blobs holding bf16 tensors: not for the (all-F32) final norm.
  if (bf16) p.bytes[opt_tier][M] = trained_nonblock32 - (train_norm ? lay32.final_norm.bytes : 0);
  // Both engines keep fp32 activations, except the bf16 engine's checkpointed block inputs (bf16).
  dev[A] = Activations::saved_bytes(mc, B, T, ckpt, bf16);
  dev[WS] = Activations::workspace_bytes(mc, B, T, ckpt, 0, bf16);
  if (cuda && bf16) {  // the CUDA backend's scratch: GEMM operands rounded to bf16, at most 2 N (C + F) bf16 values
    const size_t mib = size_t{1} << 20, scratch = 2 * sizeof(uint16_t) * (size_t)B * T * (mc.dim + mc.ffn_dim) + 512;
    dev[WS] += (scratch + mib - 1) / mib * mib;
  }

  // Placement, with the room the engine sees when it places blocks.
  p.device_budget = budget_of(cfg.memory.device_budget, "memory.device_budget");
  p.host_budget = budget_of(cfg.memory.host_budget, "memory.host_budget");
  size_t used = 0;
  for (int c = 0; c < kNumMemoryCategories; ++c) used += dev[c];
  const size_t dev_room =
      p.device_budget == SIZE_MAX ? SIZE_MAX : (p.device_budget > used ? p.device_budget - used : 0);
  try {
    p.placement = decide_placement(cfg.memory.frozen_tier, L, blob, dev_room, p.host_budget, gamma,
                                   cfg.memory.prefetch);
  } catch (const StrataError& e) {
    p.fits = false;
    p.verdict = e.what();
    p.placement = {0, 0, L};
  }
  const int streamed = L - p.placement.device;
  const int promoted = std::min(gamma, streamed);  // trained blocks that must come to the device (worst case)
  dev[W] += (size_t)(p.placement.device + promoted) * blob;
  dev[G] += (size_t)gamma * blob;
  p.bytes[opt_tier][O] += (size_t)gamma * 2 * blob32;
  if (bf16) p.bytes[opt_tier][M] += (size_t)gamma * blob32;
  if (streamed > 0) {
    dev[S] = (size_t)(cfg.memory.prefetch + 1) * blob;
    if (cuda) pinned[S] = (size_t)(cfg.memory.prefetch + 1) * blob;  // staging for tier -> device copies
    p.bytes[kHost][S] = blob;  // one blob of staging while placing and checkpointing
  }
  pinned[W] = (size_t)p.placement.host * blob;
  p.bytes[kDiskTier][W] = (size_t)p.placement.disk * blob;
  if (lisa && cfg.lisa.optimizer_state == "keep" && L > gamma) {
    // Parked moments (and fp32 masters) of the inactive blocks, plus one while a re-sampling swaps blocks.
    const size_t parked = (size_t)(L - gamma + 1);
    p.bytes[kPinned][O] += parked * 2 * blob32;
    if (bf16) p.bytes[kPinned][M] += parked * blob32;
  }

  for (int t = 0; t < kPlanTiers; ++t) {
    p.peak[t] = 0;
    for (int c = 0; c < kNumMemoryCategories; ++c) p.peak[t] += p.bytes[t][c];
  }

  // Work and traffic per optimizer step.
  const double C = mc.dim, F = mc.ffn_dim, V = mc.vocab, Q = mc.q_dim(), KV = mc.kv_dim();
  const double Pb = C * Q + 2 * C * KV + Q * C + 3 * C * F, Ph = V * C;
  const double N = (double)B * T;
  const double attn = 2.0 * B * (double)T * (T + 1) * Q;  // QK^T and PV, causal
  const double lowest = train_emb ? 0.0 : (double)(L - gamma) / (gamma + 1);  // expected lowest sampled block
  const double bwd_blocks = L - lowest;
  double f = L * (2 * Pb * N + attn) + 2 * Ph * N;                         // forward
  f += bwd_blocks * (2 * Pb * N + 2 * attn) + 2 * Ph * N;                  // dX
  f += gamma * 2 * Pb * N + (train_head || (tied && train_emb) ? 2 * Ph * N : 0);  // dW
  if (ckpt) f += bwd_blocks * (2 * Pb * N + attn);                         // recompute
  p.flops = f * cfg.train.grad_accum;
  const double frozen_streamed = lisa ? streamed * (1.0 - (double)gamma / L) : 0.0;
  const double per_micro = frozen_streamed * (1.0 + bwd_blocks / L) - (frozen_streamed > 0 ? 1.0 : 0.0);
  p.streamed_bytes = std::max(0.0, per_micro) * blob * cfg.train.grad_accum;
  p.disk_bytes = streamed > 0 ? p.streamed_bytes * p.placement.disk / streamed : 0.0;
  p.compute_seconds = p.flops / (opts.hw.device_tflops * 1e12);
  p.h2d_seconds = p.streamed_bytes / (opts.hw.h2d_gbps * 1e9);
  p.disk_seconds = p.disk_bytes / (opts.hw.disk_gbps * 1e9);
  p.step_seconds_lower_bound = std::max({p.compute_seconds, p.h2d_seconds, p.disk_seconds});
  p.required_h2d_gbps = p.compute_seconds > 0 ? p.streamed_bytes / p.compute_seconds / 1e9 : 0;
  p.required_disk_gbps = p.compute_seconds > 0 ? p.disk_bytes / p.compute_seconds / 1e9 : 0;

  // Verdict.
  char desc[256];
  std::snprintf(desc, sizeof desc, "%s, %d x %d tokens x %d accum, %s, frozen blocks: %s, %s%s",
                lisa ? ("LISA " + std::to_string(gamma) + "/" + std::to_string(L)).c_str() : "full fine-tuning", B, T,
                cfg.train.grad_accum, ckpt ? "checkpointing" : "no checkpointing", cfg.memory.frozen_tier.c_str(),
                precision.c_str(), opts.optimizer_on_host ? ", optimizer on host" : "");
  p.description = desc;
  if (p.fits) {
    if (p.peak[kDev] > p.device_budget) {
      p.fits = false;
      p.verdict = "does not fit: device peak " + gb(p.peak[kDev]) + " > device budget " + gb(p.device_budget);
    } else if (p.peak[kPinned] > p.host_budget || p.peak[kHost] > p.host_budget) {
      p.fits = false;
      p.verdict = "does not fit: host peak " + gb(std::max(p.peak[kPinned], p.peak[kHost])) + " > host budget " +
                  gb(p.host_budget);
    } else {
      p.verdict = "fits: device peak " + gb(p.peak[kDev]) +
                  (p.device_budget == SIZE_MAX ? " (no device budget)" : " of " + gb(p.device_budget));
    }
  }
  if (!p.fits && suggest) {
    // Changes that would make it fit, alone or together.
    struct Change {
      const char* what;
      std::vector<std::string> sets;
      bool host_optimizer;
    };
    std::vector<Change> changes = {
        {"memory.activation_checkpointing = true", {"memory.activation_checkpointing=true"}, false},
        {"memory.frozen_tier = \"auto\"", {"memory.frozen_tier=auto"}, false},
        {"memory.prefetch = 1", {"memory.prefetch=1"}, false},
        {"train.micro_batch = 1 (raise grad_accum to keep the batch)", {"train.micro_batch=1"}, false},
    };
    if (lisa && gamma > 1) changes.push_back({"lisa.layers = 1", {"lisa.layers=1"}, false});
    if (bf16 && !opts.optimizer_on_host) changes.push_back({"AdamW state on the host (host-side optimizer)", {}, true});
    changes.push_back({"all of the above",
                       {"memory.activation_checkpointing=true", "memory.frozen_tier=auto", "memory.prefetch=1",
                        "train.micro_batch=1", lisa ? "lisa.layers=1" : "train.mode=full"},
                       bf16});
    for (const Change& ch : changes) {
      RunConfig alt = cfg;
      for (const std::string& s : ch.sets) {
        const std::string key = s.substr(0, s.find('=')), val = s.substr(s.find('=') + 1);
        if (key == "memory.activation_checkpointing") alt.memory.activation_checkpointing = true;
        if (key == "memory.frozen_tier") alt.memory.frozen_tier = val;
        if (key == "memory.prefetch") alt.memory.prefetch = 1;
        if (key == "train.micro_batch") alt.train.micro_batch = 1;
        if (key == "lisa.layers") alt.lisa.layers = 1;
      }
      PlanOptions o2 = opts;
      if (ch.host_optimizer) o2.optimizer_on_host = true;
      const bool same = ch.sets.empty() && !ch.host_optimizer;
      if (same) continue;
      const Plan q = plan_core(alt, mc, o2, false);
      p.suggestions.push_back(std::string(ch.what) + ": device peak " + gb(q.peak[kDev]) +
                              (q.fits ? " -> fits" : " -> still too large"));
    }
  }
  return p;
}

}  // namespace strata
