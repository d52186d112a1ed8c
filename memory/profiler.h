// Profiler: a profiling session's recorder. Timed spans on named tracks (per-block forward/backward, recompute,
// optimizer, tier reads/writes, waits) and memory counters per tier and category, written as a Chrome/Perfetto
// trace (trace.json). Disabled profilers cost one branch per call. Thread-safe.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "memory/memory_tracker.h"

namespace strata {

struct TraceSpan {
  std::string name;   // "forward", "backward", "recompute", "optimizer", "read", "write", "wait", "step"...
  std::string track;  // "compute", "io", "optimizer", "train"
  int layer = -1;     // block index, or -1
  int step = 0;       // optimizer step (1-based) the span belongs to
  double start_us = 0, dur_us = 0;
};

struct MemorySample {
  double t_us = 0;
  MemorySnapshot snap;
};

class Profiler {
 public:
  explicit Profiler(bool enabled = false);
  bool enabled() const { return enabled_; }
  void set_step(int step) { step_ = step; }
  int step() const { return step_; }

  // RAII span: records [construction, destruction) on `track`.
  class Scope {
   public:
    Scope(Profiler* p, const char* name, const char* track, int layer);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    Profiler* p_;
    const char* name_;
    const char* track_;
    int layer_;
    double start_;
  };
  Scope scope(const char* name, const char* track, int layer = -1) { return Scope(this, name, track, layer); }
  void record(const char* name, const char* track, int layer, double start_us, double dur_us);
  void sample_memory(const MemorySnapshot& snap);
  double now_us() const;

  const std::vector<TraceSpan>& spans() const { return spans_; }
  const std::vector<MemorySample>& memory() const { return memory_; }
  // In .peak / .kind_peak: per tier and category the largest value any sample had (before coalescing), and per
  // tier the largest total.
  MemorySnapshot observed_peaks() const;
  // Memory samples closer than this to the one before the latest are merged into the latest (files stay small).
  static constexpr double kCoalesceUs = 200.0;
  // Chrome trace event format (JSON object with "traceEvents"): spans as complete events ("X") on one thread per
  // track, memory as counter events ("C") per tier, stacked by category. Written atomically.
  void write_trace(const std::string& path) const;

 private:
  bool enabled_;
  std::atomic<int> step_{0};  // set by the trainer, read by I/O threads
  std::chrono::steady_clock::time_point t0_;
  mutable std::mutex mu_;
  std::vector<TraceSpan> spans_;
  std::vector<MemorySample> memory_;
  MemorySnapshot observed_peak_;  // maxima over all samples, in .peak and .kind_peak
};

}  // namespace strata
