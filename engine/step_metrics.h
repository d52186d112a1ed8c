// One metrics.jsonl line per optimizer step (and per eval): the record's fields, the memory per tier from the
// accounted allocator, and the tier I/O of this step only (the difference of two PlacementStats).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/process_memory.h"
#include "engine/training_samples.h"
#include "memory/memory_tracker.h"
#include "offload/block_placement.h"

namespace strata {

struct StepRecord {
  int step = 0;            // 1-based optimizer step just done
  double loss = 0;         // NaN / Inf: a skipped step (written as null)
  double lr = 0;
  double grad_norm = 0;
  int64_t tokens = 0;
  double seconds = 0;
  int64_t allreduce_bytes = -1;   // data parallel: gradient bytes summed over the ranks this step (-1: one process)
  double allreduce_seconds = 0;   // waiting for those sums after the last backward
  double optimizer_seconds = 0;  // of which the AdamW update (host optimizer: waiting for gradients, update, copies)
  std::vector<int> active_layers;
  bool skipped = false;
  MemorySnapshot memory;
  ProcessMemory process;   // the kernel's view: resident set now and its peak
  size_t rss_base = 0;     // resident set when the run started, before it allocated (binary, libraries)
  PlacementStats io_before, io_after;  // placement statistics at the start and the end of the step
};
std::string step_metrics_json(const StepRecord& r);

struct EvalRecord {
  int step = 0;
  double loss = 0;
  size_t tokens = 0;
};
std::string eval_metrics_json(const EvalRecord& r);
// {"step": N, "samples": [{"prompt", "text", "ids"}, ...]}
std::string samples_metrics_json(int step, const std::vector<TrainingSample>& samples);

}  // namespace strata
