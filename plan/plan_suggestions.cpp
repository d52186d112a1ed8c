// plan_changes: the changes `strata plan` and a refused `strata train` suggest, each a function on a copy of the
// config (and plan options); make_plan plans each copy again and reports its device peak.
#include "plan/plan_parts.h"

namespace strata {

std::vector<PlanChange> plan_changes(const PlanInputs& in, const PlanOptions& /*opts*/) {
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
  if (!in.host_optimizer)
    changes.push_back({"memory.optimizer = \"host\"",
                       [](RunConfig& c, PlanOptions&) { c.memory.optimizer = OptimizerPlacement::Host; }});
  std::vector<PlanChange> each = changes;
  changes.push_back({"all of the above", [each](RunConfig& c, PlanOptions& o) {
                       for (const PlanChange& ch : each) ch.apply(c, o);
                     }});
  return changes;
}

}  // namespace strata
