// RunData: what the HTML report knows about a run folder, read from metrics.jsonl, trace.json (profiling
// sessions), plan.json (the planner) and config.toml. Missing or unreadable files leave their part empty and a note.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace strata {

// The tiers the report speaks of, in display order (the memory kinds plus the planner's disk tier).
inline const std::vector<std::string>& report_tiers() {
  static const std::vector<std::string> tiers = {"device", "host_pinned", "host", "disk"};
  return tiers;
}

struct StepRecord {
  int step = 0;
  double loss = 0;  // NaN for a skipped step
  double tokens = 0, seconds = 0;
  double io_wait_seconds = 0, read_bytes = 0, write_bytes = 0;
  double device = 0, device_peak = 0, host_pinned = 0, host = 0;  // memory bytes at the end of the step
};

struct EvalRecord {
  int step = 0;
  double loss = 0, perplexity = 0;
};

// One tier's memory counter from the trace: sample times (seconds since the trace began) and bytes per category.
struct MemoryCounter {
  std::string tier;
  std::vector<std::string> categories;
  std::vector<double> t;
  std::vector<std::vector<double>> bytes;  // [sample][category]
};

struct TierPeak {
  double total = 0;
  std::map<std::string, double> categories;
};

// Total time of one kind of span (name on a track) in the trace.
struct SpanTotal {
  std::string name, track;
  size_t count = 0;
  double seconds = 0;
};

struct PlanData {
  std::string model;
  std::map<std::string, int> placement;                          // resident / host / disk block counts
  std::map<std::string, std::map<std::string, double>> bytes;    // tier -> category -> bytes
  std::map<std::string, double> peak;                            // tier -> bytes
  std::optional<bool> fits;
};

struct RunData {
  std::string run_dir;
  std::vector<std::string> notes;  // what is missing or could not be read, for the report's header

  std::vector<StepRecord> steps;
  std::vector<EvalRecord> evals;
  struct Sample {
    int step = 0;
    std::string prompt, text;
  };
  std::vector<Sample> samples;  // [train] sample_every: greedy continuations, in step order

  bool has_trace = false;
  double trace_seconds = 0;  // from the first to the last trace event
  std::vector<MemoryCounter> counters;
  std::vector<SpanTotal> span_totals;  // largest total first

  // Measured peaks per tier: exact ones from the trace when present, else the largest per-step values.
  std::map<std::string, TierPeak> measured;

  bool has_plan = false;
  PlanData plan;

  // From config.toml when present (the header and the budget lines work without a plan).
  std::string config_model, config_frozen_tier;
  std::map<std::string, double> budgets;  // tier -> bytes, from plan.json or else config.toml
};

RunData load_run_data(const std::string& run_dir);

// Orders memory categories as the tracker lists them (weights first ... other), unknown names after, by name.
bool category_less(const std::string& a, const std::string& b);

}  // namespace strata
