// Benchmark: LISA step time with the frozen blocks streamed from the host tier and from the disk tier (io_uring and
// pread) against all blocks resident, on a compute-bound config, printed as ratios measured in one run.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "bench/train_timing.h"

using namespace strata;
namespace fs = std::filesystem;

static const char* kConfig = R"(
[model]
preset = "small"
[data]
train = "synthetic"
synthetic_documents = 600
seq_len = 256
[train]
micro_batch = 4
lr = 1e-3
eval_every = 0
[lisa]
layers = 2
interval = 3
[output]
checkpoint_every = 0
)";

int main(int argc, char** argv) {
  int steps = 7;
  std::string dir = fs::current_path().string();
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--steps" && i + 1 < argc) steps = std::max(3, std::atoi(argv[++i]));
    else if (a == "--dir" && i + 1 < argc) dir = argv[++i];
    else {
      std::fprintf(stderr, "usage: bench_offload [--steps N] [--dir DIR (for the disk tier file; not tmpfs)]\n");
      return 2;
    }
  }
  const std::string tmp = (fs::path(dir) / ("strata-bench-offload-" + std::to_string(::getpid()))).string();
  const std::string st = "train.steps=" + std::to_string(steps);
  struct Case {
    const char* name;
    std::vector<std::string> sets;
  };
  const Case cases[] = {
      {"all resident", {st, "memory.frozen_tier=device"}},
      {"host tier, prefetch 2", {st, "memory.frozen_tier=host"}},
      {"disk tier io_uring, prefetch 2", {st, "memory.frozen_tier=disk", "memory.io=uring"}},
      {"disk tier pread, prefetch 2", {st, "memory.frozen_tier=disk", "memory.io=pread"}},
      // The cost of checking every read's checksum (memory.verify = "always") against the default (after each write).
      {"host tier, verify always", {st, "memory.frozen_tier=host", "memory.verify=always"}},
      {"disk tier io_uring, verify always", {st, "memory.frozen_tier=disk", "memory.io=uring", "memory.verify=always"}},
  };
  std::printf("bench_offload: preset small (8 blocks of 11.6 MB), LISA 2/8, 4 x 256 tokens/step, CPU, %d steps\n", steps);
  double base = 0;
  int i = 0;
  for (const Case& c : cases) {
    const bench::Timing t = bench::timed_training(kConfig, tmp + "/" + std::to_string(i++), c.sets);
    if (base == 0) base = t.median_s;
    std::printf("  %-32s %.3f s/step  ratio %.3f  read %.0f MB/step  compute waited %.3f s/step  device peak %.0f MiB\n",
                c.name, t.median_s, t.median_s / base, t.read_mb, t.io_wait_s, t.device_peak_mib);
  }
  fs::remove_all(tmp);
  return 0;
}
