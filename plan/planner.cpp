// make_plan: what a config implies (plan_inputs), then sizing, checkpoints, step estimate and verdict (plan_parts.h),
// then, for a plan that does not fit, the changes that would help (suggest_changes).
#include "plan/planner.h"

#include <algorithm>
#include <cstdio>

#include "core/check.h"
#include "optim/shard_owners.h"
#include "plan/plan_parts.h"

namespace strata {

const char* plan_tier_name(int tier) {
  return tier == kDiskTier ? "disk" : to_string(static_cast<MemoryKind>(tier));
}

std::string gb(double bytes) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f GB", bytes / 1e9);
  return b;
}

PlanInputs plan_inputs(const RunConfig& cfg, const ModelConfig& mc, const PlanOptions& opts) {
  PlanInputs in;
  in.bf16 = opts.precision.value_or(cfg.train.precision) == Precision::BF16;
  in.cuda = cfg.memory.backend.rfind("cuda", 0) == 0;
  in.cpu = cfg.memory.backend == "cpu";
  in.host_optimizer = cfg.memory.optimizer == OptimizerPlacement::Host;
  in.lisa = cfg.train.mode == TrainMode::Lisa;
  in.keep_state = in.lisa && cfg.lisa.optimizer_state == InactiveStatePolicy::Keep;
  in.n_layers = mc.n_layers;
  in.gamma = in.lisa ? std::min(cfg.lisa.layers, mc.n_layers) : mc.n_layers;
  in.layout = make_model_layout(mc, in.bf16 ? DType::BF16 : DType::F32);
  in.layout32 = make_model_layout(mc, DType::F32);
  in.micro_batch = cfg.train.micro_batch;
  in.seq_len = cfg.data.seq_len;
  in.sample_rows = cfg.train.sample_every > 0 ? (int)cfg.train.sample_prompts.size() : 0;
  in.checkpointing = cfg.memory.activation_checkpointing;
  in.tied = mc.tie_embeddings;
  const NonBlockTraining trains = non_block_training(cfg, mc.tie_embeddings);
  in.train_embedding = trains.embedding;
  in.train_head = trains.head;
  in.train_final_norm = trains.final_norm;
  in.owned_blocks = in.gamma;
  if (cfg.distributed.shard_optimizer && opts.ranks > 1) {
    const BlobIds ids{mc.n_layers};
    std::vector<std::pair<BlobId, size_t>> trained;
    if (in.train_embedding) trained.push_back({ids.embedding(), in.layout32.embedding.bytes});
    if (in.train_head) trained.push_back({ids.head(), in.layout32.head.bytes});
    if (in.train_final_norm) trained.push_back({ids.final_norm(), in.layout32.final_norm.bytes});
    for (int l = 0; l < in.gamma; ++l) trained.push_back({ids.block(l), in.layout32.block.bytes});
    ShardOwners owners(opts.ranks);
    owners.update(trained);
    int most = 0;
    for (int r = 1; r < opts.ranks; ++r)
      if (owners.load(r) > owners.load(most)) most = r;
    in.owns_embedding = owners.owner(ids.embedding()) == most;
    in.owns_head = owners.owner(ids.head()) == most;
    in.owns_final_norm = owners.owner(ids.final_norm()) == most;
    in.owned_blocks = 0;
    for (int l = 0; l < in.gamma; ++l) in.owned_blocks += owners.owner(ids.block(l)) == most;
  }
  return in;
}

Plan plan_without_suggestions(const RunConfig& cfg, const ModelConfig& mc, const PlanOptions& opts) {
  const PlanInputs in = plan_inputs(cfg, mc, opts);
  Plan p;
  p.model = mc;
  size_memory(in, cfg, opts, p);
  size_checkpoints(in, cfg, p);
  estimate_step(in, cfg, opts, p);
  size_data_parallel(in, opts, p);
  judge(in, cfg, opts, p);
  return p;
}

Plan make_plan(const RunConfig& cfg, const ModelConfig& mc, const PlanOptions& opts) {
  Plan p = plan_without_suggestions(cfg, mc, opts);
  if (!p.fits) p.suggestions = suggest_changes(cfg, mc, opts, p);
  const bool keep = cfg.train.mode == TrainMode::Lisa && cfg.lisa.optimizer_state == InactiveStatePolicy::Keep;
  if (opts.ranks > 1 && !keep) {
    RunConfig other = cfg;
    other.distributed.shard_optimizer = !cfg.distributed.shard_optimizer;
    p.peak_other_sharding = plan_without_suggestions(other, mc, opts).peak;
  }
  return p;
}

}  // namespace strata
