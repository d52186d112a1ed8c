// Shared by the training benchmarks: run `strata train` on a config (text + overrides) into a folder and return the
// median step time and peaks read back from its metrics.jsonl (the first step, which allocates, is excluded).
#pragma once
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/trainer.h"

namespace strata::bench {

struct Timing {
  double median_s = 0;
  double device_peak_mib = 0;
  double io_wait_s = 0;  // per step, median
  double read_mb = 0;    // per step, median, host + disk tiers
};

inline Timing timed_training(const char* config_text, const std::string& dir, std::vector<std::string> sets) {
  sets.push_back("output.dir=" + dir);
  TrainOptions o;
  o.log = nullptr;
  train(RunConfig::parse(config_text, "bench", sets), o);
  std::ifstream in(std::filesystem::path(dir) / "metrics.jsonl");
  std::vector<double> secs, wait, read;
  Timing t;
  std::string line;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    if (!j.contains("seconds")) continue;
    t.device_peak_mib = std::max(t.device_peak_mib, j["memory"]["device_peak"].get<double>() / (1 << 20));
    if (j["step"].get<int>() == 1) continue;
    secs.push_back(j["seconds"].get<double>());
    wait.push_back(j["io"]["io_wait_seconds"].get<double>());
    read.push_back((j["io"]["host_read_bytes"].get<double>() + j["io"]["disk_read_bytes"].get<double>()) / 1e6);
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
  };
  t.median_s = median(secs);
  t.io_wait_s = median(wait);
  t.read_mb = median(read);
  return t;
}

}  // namespace strata::bench
