// Trainer: runs `strata train`: builds backend, model, data and optimizer from a RunConfig, then loops LISA (or full)
// steps with gradient accumulation, clipping, non-finite skipping, eval, metrics, progress and checkpoints/resume.
#pragma once
#include <atomic>
#include <cstdio>
#include <string>
#include <vector>

#include "config/run_config.h"

namespace strata {

class MpiWorld;

struct TrainOptions {
  std::string resume_dir;                   // non-empty: continue this run from its newest checkpoint
  const std::atomic<bool>* stop = nullptr;  // set (e.g. by SIGINT/SIGTERM): finish the step, save, return
  FILE* log = stdout;                       // progress lines; nullptr = silent
  int stop_at_step = 0;                     // > 0: behave as if stopped once this many steps are done
  int stop_at_micro_batch = 0;              // > 0: as if a stop request came after this many micro-batches (tests)
  // Data parallelism: the ranks started by mpirun (null or one rank: a single process). Each rank computes its
  // share of a step's micro_batch x grad_accum x ranks sequences; rank 0 alone writes the run folder.
  const MpiWorld* world = nullptr;
};

struct TrainResult {
  int first_step = 0;              // steps already done when this call started (resume)
  int steps_done = 0;              // optimizer steps completed in total
  std::vector<double> losses;      // per step run by this call (NaN for skipped steps)
  std::vector<std::vector<int>> active_blocks;  // per step run by this call
  bool interrupted = false;        // stopped by `stop`
  std::string last_checkpoint;
};

// Trains; throws StrataError on bad configuration or data, or after train.max_nonfinite_steps skipped steps in a
// row. `cfg.output.dir` is the run folder (for a resume, the run's own config.toml is used by the caller).
TrainResult train(const RunConfig& cfg, const TrainOptions& opts = {});

// Mean loss (token-weighted) and perplexity of a model (HF folder, run or checkpoint) on a dataset.
struct EvalResult {
  double loss = 0;
  double perplexity = 0;
  size_t tokens = 0;
  size_t batches = 0;
  std::string model_description;
};
struct EvalOptions {
  std::string model;      // HF folder, run folder or checkpoint folder
  DataSection data;       // data.train is the dataset evaluated (all its windows, in order)
  int micro_batch = 4;
  size_t max_batches = 0; // 0 = every window
  std::string backend = "cpu";
};
EvalResult evaluate_model(const EvalOptions& opts);

}  // namespace strata
