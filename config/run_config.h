// RunConfig: every setting of a training run, read from a TOML file (toml++) plus `--set section.key=value`
// overrides, validated key by key: unknown keys get a "did you mean", wrong types and ranges name the key.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/enum_names.h"
#include "data/data_config.h"
#include "model/precision.h"
#include "offload/placement_policy.h"
#include "offload/tier_store.h"
#include "optim/adamw_optimizer.h"
#include "optim/lr_schedule.h"

namespace strata {

struct ModelSection {            // [model]
  std::string preset;            // built-in shape (strata presets), initialised from init_seed; or
  std::string path;              // an HF model folder (config.json + safetensors). Exactly one of the two.
  uint64_t init_seed = 0;        // seed of the normal init when `preset` is used
};

// train.mode: LISA (gamma sampled middle blocks + embedding + head train) or full fine-tuning.
enum class TrainMode { Lisa, Full };
constexpr std::array<EnumName<TrainMode>, 2> enum_names(TrainMode) {
  return {{{TrainMode::Lisa, "lisa"}, {TrainMode::Full, "full"}}};
}

struct TrainSection {            // [train]
  TrainMode mode = TrainMode::Lisa;
  int steps = 200;               // optimizer steps
  int micro_batch = 4;           // sequences per micro-batch
  int grad_accum = 1;            // micro-batches per optimizer step
  double lr = 3e-4;
  LrScheduleKind lr_schedule = LrScheduleKind::Cosine;
  Precision precision = Precision::F32;  // bf16: bf16 weight matrices/embedding and their grads, fp32 masters,
                                        // AdamW moments, activations and norms (GEMM inputs rounded to bf16)
  int warmup_steps = 0;
  double min_lr_ratio = 0.1;     // final lr = lr * min_lr_ratio for linear/cosine, in [0, 1]
  double weight_decay = 0.0;     // decoupled; applied to matrices only (not norm weights)
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double grad_clip = 1.0;        // global L2 norm; 0 disables
  uint64_t seed = 1;             // LISA sampling seed
  int max_nonfinite_steps = 5;   // stop after this many consecutive skipped (NaN/Inf) steps
  int eval_every = 50;           // 0 disables periodic eval
  int eval_batches = 8;          // micro-batches per eval
  int sample_every = 0;          // greedy samples of the current weights every N steps; 0 disables
  std::vector<std::string> sample_prompts;  // the prompts sampled (batched), each within data.seq_len tokens
  int sample_tokens = 32;        // new tokens per sample
};

struct LisaSection {             // [lisa]
  int layers = 2;                // gamma: blocks trained at a time, in [1, n_layers]
  int interval = 20;             // K: steps between re-samplings, >= 1
  bool train_embedding = true;
  bool train_head = true;
  bool train_final_norm = true;
  InactiveStatePolicy optimizer_state = InactiveStatePolicy::Reset;  // reset: drop a deactivated block's AdamW
                                                                     // state; keep: park it on the host
};

struct MemorySection {           // [memory]
  std::string backend = "cpu";   // cpu | ref | cuda:N
  bool activation_checkpointing = false;
  std::string device_budget;     // e.g. "48GiB"; empty = unlimited
  std::string host_budget;       // empty = unlimited
  FrozenTier frozen_tier = FrozenTier::Device;  // where frozen blocks live (auto: device, then host, then disk)
  std::string disk_path;         // disk tier file; empty: <output.dir>/offload.bin
  int prefetch = 2;              // streamed blocks read ahead of compute, >= 1
  VerifyPolicy verify = VerifyPolicy::First;  // checksum on tier reads: first (after each write), always, never
  DiskIo io = DiskIo::Auto;      // disk tier I/O: auto (io_uring + O_DIRECT, else pread), uring, pread
  OptimizerPlacement optimizer = OptimizerPlacement::Device;  // fp32 masters + AdamW moments of trained tensors
                                                               // and their update: device, or host (threads)
};

struct OutputSection {           // [output]
  std::string dir = "runs/run";  // run folder (created; must be empty or absent unless resuming)
  int log_every = 1;             // progress line every N steps
  int checkpoint_every = 100;    // 0: only at the end (and on SIGINT/SIGTERM)
  int keep_checkpoints = 3;      // newest N kept
  bool save_batches = false;     // write every step's token ids and targets to batches.bin (for replays/debugging)
  bool profile = false;          // profiling session: trace.json + report.html in the run folder
};

struct DistributedSection {      // [distributed]: data-parallel runs under mpirun (ignored by a single process)
  double timeout_s = 300;        // a rank waits this long for the others in a collective, then all stop naming it
  int bucket_mb = 25;            // gradient all-reduce bucket size (MiB)
  bool shard_optimizer = false;  // ZeRO-1 by blob: each trained blob's AdamW state and master on one rank only
};

struct RunConfig;

// Which non-block parts train: the [lisa] switches in LISA mode, everything in full mode. A tied embedding is also
// the head, so it trains when either switch asks for it. The one rule: the trainer applies it, the planner sizes it.
struct NonBlockTraining {
  bool embedding = false, head = false, final_norm = false;
};
NonBlockTraining non_block_training(const RunConfig& cfg, bool tied_embeddings);

struct RunConfig {
  ModelSection model;
  DataSection data;
  TrainSection train;
  LisaSection lisa;
  MemorySection memory;
  OutputSection output;
  DistributedSection distributed;

  // Parses TOML text; `origin` (file name) prefixes errors. Overrides are "section.key=value" strings whose value
  // is TOML (strings may be given without quotes). Throws StrataError naming the key on the first problem.
  static RunConfig parse(const std::string& toml_text, const std::string& origin,
                         const std::vector<std::string>& overrides = {});
  static RunConfig load(const std::string& path, const std::vector<std::string>& overrides = {});
  // The resolved config as TOML (every key, defaults included); parse(to_toml()) gives an equal config.
  std::string to_toml() const;
  // Every key as "section.key", in to_toml order, with the allowed names of enumerated keys (empty otherwise): what
  // the README's key table must list (a test checks it).
  struct KeyInfo {
    std::string name;
    std::vector<std::string> allowed;
  };
  static std::vector<KeyInfo> keys();
  // Checks that need the model: seq_len <= max_seq_len, lisa.layers <= n_layers (throws naming the key).
  void validate_against_model(int n_layers, int max_seq_len) const;
};

}  // namespace strata
