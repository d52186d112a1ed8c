// The planner's parts, private to plan/: what a config implies (PlanInputs), the memory sizing with placement, the
// checkpoints on disk, the step estimate, the verdict, and the suggestions (changes planned again on a config copy).
#pragma once
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "model/param_layout.h"
#include "plan/planner.h"

namespace strata {

// What the config and options imply for the engine, derived once.
struct PlanInputs {
  bool bf16 = false;
  bool cuda = false;         // streamed blocks pass through pinned staging
  bool cpu = false;          // the CPU backend (its bf16 ops widen into an accounted fp32 scratch)
  bool lisa = false;
  int n_layers = 0, gamma = 0;  // gamma: blocks trained at a time (all of them for full fine-tuning)
  ModelLayout layout, layout32;  // working (bf16 or fp32) and fp32 layouts
  int micro_batch = 0, seq_len = 0;
  bool checkpointing = false;
  bool tied = false, train_embedding = false, train_head = false, train_final_norm = false;
  bool host_optimizer = false;  // memory.optimizer = "host": masters, moments and their staging in pinned host memory
  bool keep_state = false;      // LISA with lisa.optimizer_state = "keep": deactivated blocks' state is parked
  int sample_rows = 0;          // [train] sample_every: prompts sampled together (a KV cache of seq_len positions)
  // distributed.shard_optimizer with ranks > 1: the optimizer state (moments, masters, host staging) of the rank
  // that owns the most at the first step (optim/shard_owners.h; the ownership keeps that balance): which non-block
  // blobs and how many of the gamma blocks it holds. Otherwise every trained blob.
  bool owns_embedding = true, owns_head = true, owns_final_norm = true;
  int owned_blocks = 0;
};
PlanInputs plan_inputs(const RunConfig& cfg, const ModelConfig& model, const PlanOptions& opts);

// Bytes per tier and category, the placement of the blocks, and the peaks (plan_sizing.cpp).
void size_memory(const PlanInputs& in, const RunConfig& cfg, const PlanOptions& opts, Plan& p);
// Work and traffic per optimizer step and the step-time lower bound (plan_step_estimate.cpp).
void estimate_step(const PlanInputs& in, const RunConfig& cfg, const PlanOptions& opts, Plan& p);
// The checkpoints the run keeps: one checkpoint's bytes, how many are on disk at once, and the disk the run needs
// with the tier file (plan_checkpoint_size.cpp).
void size_checkpoints(const PlanInputs& in, const RunConfig& cfg, Plan& p);
// The gradient bytes a data-parallel step all-reduces, and the ring traffic per rank (plan_data_parallel.cpp).
void size_data_parallel(const PlanInputs& in, const PlanOptions& opts, Plan& p);
// The one-line description and the verdict against the budgets (plan_verdict.cpp).
void judge(const PlanInputs& in, const RunConfig& cfg, const PlanOptions& opts, Plan& p);
// Which budgets a plan's peaks exceed, and its peaks against them as one phrase: "device peak 5.56 GB, host peak
// 31.20 GB > host budget 24.00 GB" (plan_verdict.cpp).
struct FailingBudgets {
  bool device = false, host = false;
  bool placement = false;  // the plan does not fit although no peak exceeds a budget: the blocks cannot be placed
};
FailingBudgets failing_budgets(const Plan& p);
size_t host_peak(const Plan& p);  // the larger of the pinned and pageable host peaks (each has the host budget)
std::string peaks_against_budgets(const Plan& p);

// A change a user can make, as a function on a copy of the config and options (plan_suggestions.cpp).
struct PlanChange {
  std::string what;  // how the user makes it, e.g. "memory.prefetch = 1"
  std::function<void(RunConfig&, PlanOptions&)> apply;
};
std::vector<PlanChange> plan_changes(const PlanInputs& in, const PlanOptions& opts);
// For a plan that does not fit: each change of plan_changes that lowers a failing peak, planned again, as a line
// with its peaks against the budgets and "-> fits" or "-> still too large"; then all of those together.
std::vector<std::string> suggest_changes(const RunConfig& cfg, const ModelConfig& model, const PlanOptions& opts,
                                         const Plan& failing);

// Everything but the suggestions.
Plan plan_without_suggestions(const RunConfig& cfg, const ModelConfig& model, const PlanOptions& opts);

std::string gb(double bytes);  // "1.23 GB"

}  // namespace strata
