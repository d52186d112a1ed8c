// MetricsLog: the run's metrics.jsonl, one JSON object per line (training steps and eval results), flushed per line.
// On resume it is cut back to the checkpoint's step so the file never holds two versions of a step.
#pragma once
#include <cstdio>
#include <string>

namespace strata {

class MetricsLog {
 public:
  // Opens run_dir/metrics.jsonl for appending; when keep_up_to_step >= 0, first drops lines whose "step" is larger
  // (rewritten atomically).
  MetricsLog(const std::string& run_dir, int keep_up_to_step = -1);
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;
  // Appends one line; throws StrataError naming the file when it cannot be written whole (the partial line is
  // cut off again, so the file never holds a torn line).
  void write(const std::string& json_line);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;  // O_APPEND
};

}  // namespace strata
