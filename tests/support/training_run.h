// Test helpers for suites that train tiny runs: a RunConfig from a suite's TOML text with output.dir set, and
// TrainOptions that print nothing (or resume a run folder).
#pragma once
#include <string>
#include <vector>

#include "config/run_config.h"
#include "engine/trainer.h"

namespace strata::test {

inline RunConfig run_config_in(const char* toml, const std::string& dir, std::vector<std::string> sets = {}) {
  sets.push_back("output.dir=" + dir);
  return RunConfig::parse(toml, "test.toml", sets);
}

inline TrainOptions quiet() {
  TrainOptions o;
  o.log = nullptr;
  return o;
}

inline TrainOptions resuming(const std::string& run_dir) {
  TrainOptions o = quiet();
  o.resume_dir = run_dir;
  return o;
}

}  // namespace strata::test
