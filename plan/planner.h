// Planner: predicts, without loading weights, what a run allocates: bytes per tier and category, where each block
// lives, whether it fits the budgets, the bandwidth it needs and a step-time lower bound. It uses the engine's own
// sizing functions (layouts, Activations, decide_placement), so for the CPU engine the plan is what gets allocated.
#pragma once
#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "config/run_config.h"
#include "memory/memory_kind.h"
#include "model/model_config.h"
#include "offload/placement_policy.h"

namespace strata {

// The tiers a plan speaks of: the three memory kinds plus disk.
inline constexpr int kPlanTiers = kNumMemoryKinds + 1;
inline constexpr int kDiskTier = kNumMemoryKinds;
const char* plan_tier_name(int tier);  // device, host_pinned, host, disk

struct Hardware {
  double device_tflops = 0.25;  // achieved dense GEMM TFLOP/s (probe or default)
  double h2d_gbps = 10.0;       // host -> device copy GB/s (pinned)
  double disk_gbps = 1.0;       // disk-tier read GB/s
  std::string source = "defaults";
};

struct PlanOptions {
  // F32: every tensor fp32. BF16 (train.precision = "bf16"): bf16 weight matrices, embedding and their
  // gradients; fp32 master weights and AdamW moments for trained parameters; fp32 activations and norms.
  std::optional<Precision> precision;  // unset: the config's train.precision
  Hardware hw;
  int ranks = 1;  // data-parallel ranks (mpirun -np N): the all-reduce each step needs
};

struct Plan {
  ModelConfig model;
  std::string description;  // "LISA 2/80, seq 2048 x 1, checkpointing, frozen blocks: host"
  size_t blob_bytes = 0;    // one block's working weights
  PlacementCounts placement;
  std::array<std::array<size_t, kNumMemoryCategories>, kPlanTiers> bytes{};  // peak bytes per tier x category
  std::array<size_t, kPlanTiers> peak{};
  size_t op_scratch_bytes = 0;  // of the device workspace: the CPU backend's bf16 scratch (Backend::reserve_op_scratch)  // peak[kDiskTier]: the disk-tier file alone
  // Disk beyond the tier file: the checkpoints the run keeps in <output.dir>/checkpoints (plan_checkpoint_size.cpp).
  size_t checkpoint_weights_bytes = 0;    // weights.safetensors data: every blob trained so far, working dtype
  size_t checkpoint_optimizer_bytes = 0;  // optimizer.safetensors data: fp32 m, v (and masters) of stateful blobs
  size_t checkpoint_overhead_bytes = 0;   // an upper bound on headers and state.json
  size_t checkpoint_bytes = 0;            // one checkpoint, the largest the run writes: the three above
  int keep_checkpoints = 0;               // output.keep_checkpoints
  int checkpoints_on_disk = 0;            // most on disk at once (a new one is written before the oldest goes)
  size_t disk_needed = 0;                 // peak[kDiskTier] + checkpoints_on_disk x checkpoint_bytes
  // The process beyond the tiers: what the executable holds before a run allocates (binary, libraries: measured by
  // the trainer at start, rss_base in metrics.jsonl) plus this allowance for the runtime's own buffers (OpenMP and
  // OpenBLAS thread buffers, the checkpoint writer's and readers' 8 MiB pieces, the data set's index, allocator
  // slack). Peak RSS = rss_base + host + device peaks + this, within 10% (test_process_memory, bench/scale_run.sh).
  static constexpr size_t kRuntimeAllowance = size_t{32} << 20;
  size_t device_budget = SIZE_MAX, host_budget = SIZE_MAX;
  bool fits = true;
  std::string verdict;                   // one line
  std::vector<std::string> suggestions;  // changes lowering a failing peak, each with its peaks against the budgets
  // Per optimizer step.
  double flops = 0;
  double streamed_bytes = 0;  // host/disk -> device
  double disk_bytes = 0;      // of which read from disk
  double compute_seconds = 0, h2d_seconds = 0, disk_seconds = 0;
  double step_seconds_lower_bound = 0;
  double required_h2d_gbps = 0, required_disk_gbps = 0;  // to hide streaming behind compute
  // Data parallelism (plan_data_parallel.cpp): every rank holds the memory above; per step the trained gradients are
  // all-reduced. A ring all-reduce sends (and receives) 2 (N - 1) / N times the bytes from each rank.
  int ranks = 1;
  bool sharded = false;             // distributed.shard_optimizer: the tables above are the rank holding the most
  // The per-rank peaks with the other setting of distributed.shard_optimizer (empty when it cannot apply: one rank,
  // or lisa.optimizer_state = "keep").
  std::optional<std::array<size_t, kPlanTiers>> peak_other_sharding;
  size_t allreduce_bytes = 0;       // the trained tensors' gradients (LISA: gamma blocks + embedding/head/norm)
  size_t allreduce_bytes_full = 0;  // full fine-tuning of the same model: every gradient
  double allreduce_sent_per_rank = 0;  // ring traffic per rank and step

  std::string to_text() const;
  std::string to_json() const;
};

// Plans `cfg` for a model of shape `model`. Budgets come from cfg.memory (device_budget, host_budget).
Plan make_plan(const RunConfig& cfg, const ModelConfig& model, const PlanOptions& opts = {});

// Full fine-tuning and LISA with gamma = 1, 2, 4 for the same model and settings, as (label, plan) rows.
std::vector<std::pair<std::string, Plan>> compare_modes(const RunConfig& cfg, const ModelConfig& model,
                                                        const PlanOptions& opts);
std::string comparison_table(const std::vector<std::pair<std::string, Plan>>& rows);

// Reads the machine figures `strata probe` wrote (see probe_path()); defaults when there are none.
Hardware load_hardware();
std::string probe_path();  // $STRATA_PROBE, else $XDG_CACHE_HOME/strata/probe.json, else ~/.cache/strata/probe.json

}  // namespace strata
