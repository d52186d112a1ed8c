// MetricsLog implementation (plain stdio; nlohmann-json only to read "step" back when trimming on resume).
#include "engine/metrics_log.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/check.h"

namespace strata {

MetricsLog::MetricsLog(const std::string& run_dir, int keep_up_to_step)
    : path_((std::filesystem::path(run_dir) / "metrics.jsonl").string()) {
  if (keep_up_to_step >= 0 && std::filesystem::exists(path_)) {
    std::ifstream in(path_);
    std::string kept, line;
    while (std::getline(in, line)) {
      const auto j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_discarded() && j.is_object() && j.contains("step") && j["step"].is_number_integer() &&
          j["step"].get<int>() <= keep_up_to_step)
        kept += line + "\n";
    }
    in.close();
    write_file_atomic(path_, kept);
  }
  f_ = std::fopen(path_.c_str(), "a");
  STRATA_CHECK(f_, "cannot open " + path_ + " for writing");
}

MetricsLog::~MetricsLog() {
  if (f_) std::fclose(f_);
}

void MetricsLog::write(const std::string& line) {
  std::fputs(line.c_str(), f_);
  std::fputc('\n', f_);
  std::fflush(f_);
}

}  // namespace strata
