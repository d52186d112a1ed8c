// Subcommands of the strata CLI, one function per command; main.cpp only parses arguments and dispatches.
// Each returns the process exit code.
#pragma once
#include <cstdint>
#include <string>

namespace strata {

struct DemoOptions {
  std::string backend = "cpu";
  int batch = 4;
  int seq_len = 64;
  int steps = 3;
  uint64_t seed = 1234;
  bool checkpointing = false;
};

int run_demo(const DemoOptions& opts);
int run_backends();

}  // namespace strata
