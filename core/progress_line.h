// ProgressLine: one-line progress reports for long, otherwise silent work (items and bytes done of a total, rate,
// ETA), at most one line per interval on a monotonic clock (injectable for tests), written to a caller's sink.
#pragma once
#include <cstddef>
#include <cstdio>
#include <functional>
#include <string>

namespace strata {

class ProgressLine {
 public:
  using Sink = std::function<void(const std::string& line)>;  // one line, without a newline
  using Clock = std::function<double()>;                      // seconds on a monotonic clock

  // Seconds on std::chrono::steady_clock (the default clock).
  static double steady_seconds();
  // A sink that writes `prefix` + line + "\n" to `f` and flushes it.
  static Sink to_file(std::FILE* f, std::string prefix = "");

  // Starts timing now. With a null `sink` nothing is ever written; `total_bytes` 0 leaves bytes and rate out.
  ProgressLine(std::string label, size_t total_items, size_t total_bytes, Sink sink, Clock clock = steady_seconds,
               double interval_s = 2.0);

  // Adds to what is done; writes a line when `interval_s` has passed since the start or the last line.
  void advance(size_t items, size_t bytes);
  // Writes the final line ("... | done in 0:25"), once, when the work took at least one interval or a line was
  // written before (quick work stays silent). Not called by the destructor: a failed run reports its error instead.
  void finish();

  // The line for the progress so far at time `now` (seconds of `clock`), e.g.
  // "placing blocks: 12/32 | 4.8/12.9 GB | 0.52 GB/s | ETA 0:15"; `final` ends it with "done in M:SS" instead.
  std::string format(double now, bool final) const;

 private:
  std::string label_;
  size_t total_items_, total_bytes_;
  Sink sink_;
  Clock clock_;
  double interval_s_;
  double start_ = 0, last_ = 0;
  size_t items_ = 0, bytes_ = 0;
  bool wrote_ = false, finished_ = false;
};

}  // namespace strata
