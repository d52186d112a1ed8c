// plan_changes: the changes `strata plan` and a refused `strata train` suggest, each a config key `strata train` runs,
// as a function on a copy of the config; suggest_changes plans each copy again and keeps those that lower a failing
// peak, each shown with its peaks against the budgets.
#include "plan/plan_parts.h"

namespace strata {

std::vector<PlanChange> plan_changes(const PlanInputs& in, const PlanOptions& opts) {
  std::vector<PlanChange> changes = {
      {"memory.activation_checkpointing = true",
       [](RunConfig& c, PlanOptions&) { c.memory.activation_checkpointing = true; }},
      {"memory.frozen_tier = \"auto\"", [](RunConfig& c, PlanOptions&) { c.memory.frozen_tier = FrozenTier::Auto; }},
      {"memory.prefetch = 1", [](RunConfig& c, PlanOptions&) { c.memory.prefetch = 1; }},
      {"train.micro_batch = 1 (raise grad_accum to keep the batch)",
       [](RunConfig& c, PlanOptions&) { c.train.micro_batch = 1; }},
  };
  if (in.lisa && in.gamma > 1)
    changes.push_back({"lisa.layers = 1", [](RunConfig& c, PlanOptions&) { c.lisa.layers = 1; }});
  if (in.keep_state)
    changes.push_back({"lisa.optimizer_state = \"reset\"",
                       [](RunConfig& c, PlanOptions&) { c.lisa.optimizer_state = InactiveStatePolicy::Reset; }});
  if (!in.host_optimizer)
    changes.push_back({"memory.optimizer = \"host\"",
                       [](RunConfig& c, PlanOptions&) { c.memory.optimizer = OptimizerPlacement::Host; }});
  const bool sharded = in.owned_blocks < in.gamma || !in.owns_embedding || !in.owns_head || !in.owns_final_norm;
  if (opts.ranks > 1 && !sharded && !in.keep_state)
    changes.push_back({"distributed.shard_optimizer = true",
                       [](RunConfig& c, PlanOptions&) { c.distributed.shard_optimizer = true; }});
  return changes;
}

namespace {

// "change: device peak 5.56 GB, host peak 31.20 GB > host budget 24.00 GB -> still too large"; a placement that
// cannot work adds the first clause of its reason.
std::string suggestion_line(const std::string& what, const Plan& q) {
  std::string s = what + ": " + peaks_against_budgets(q);
  if (q.fits) return s + " -> fits";
  if (failing_budgets(q).placement) s += " (" + q.verdict.substr(0, q.verdict.find(';')) + ")";
  return s + " -> still too large";
}

}  // namespace

std::vector<std::string> suggest_changes(const RunConfig& cfg, const ModelConfig& model, const PlanOptions& opts,
                                         const Plan& failing) {
  const int kDev = (int)MemoryKind::Device;
  const FailingBudgets f = failing_budgets(failing);
  // A change is worth listing when it makes the run fit or lowers a peak that exceeds its budget (the device peak
  // when the blocks cannot be placed, since the room left on the device decides that).
  auto lowers_a_failing_peak = [&](const Plan& q) {
    return q.fits || ((f.device || f.placement) && q.peak[kDev] < failing.peak[kDev]) ||
           (f.host && host_peak(q) < host_peak(failing));
  };
  auto planned_with = [&](const std::vector<PlanChange>& changes) {
    RunConfig alt = cfg;
    PlanOptions alt_opts = opts;
    for (const PlanChange& c : changes) c.apply(alt, alt_opts);
    return plan_without_suggestions(alt, model, alt_opts);
  };
  std::vector<std::string> lines;
  std::vector<PlanChange> helpful;
  for (const PlanChange& change : plan_changes(plan_inputs(cfg, model, opts), opts)) {
    const Plan q = planned_with({change});
    if (!lowers_a_failing_peak(q)) continue;
    lines.push_back(suggestion_line(change.what, q));
    helpful.push_back(change);
  }
  if (helpful.size() > 1) lines.push_back(suggestion_line("all of the above", planned_with(helpful)));
  return lines;
}

}  // namespace strata
