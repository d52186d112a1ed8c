// Benchmark: optimizer-step time of LISA (gamma = 2 of L blocks, default 8) against full fine-tuning on the same model, data and
// engine, measured in one run from each training's metrics.jsonl (median step seconds, first step excluded).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <unistd.h>

#include "bench/train_timing.h"
#include "formats/hf_export.h"
#include "model/presets.h"

using namespace strata;
namespace fs = std::filesystem;

static const char* kConfig = R"(
[data]
train = "synthetic"
synthetic_documents = 600
seq_len = 256
[train]
micro_batch = 4
lr = 1e-3
eval_every = 0
[lisa]
interval = 2
[output]
checkpoint_every = 0
)";

using bench::Timing;

static Timing run(const std::string& dir, int steps, std::vector<std::string> sets) {
  sets.push_back("train.steps=" + std::to_string(steps));
  return bench::timed_training(kConfig, dir, sets);
}

int main(int argc, char** argv) {
  int steps = 7, layers = 8;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--steps" && i + 1 < argc) steps = std::max(3, std::atoi(argv[++i]));
    else if (a == "--layers" && i + 1 < argc) layers = std::max(2, std::atoi(argv[++i]));
    else {
      std::fprintf(stderr, "usage: bench_lisa_vs_full [--steps N] [--layers L]\n");
      return 2;
    }
  }
  const std::string tmp = (fs::temp_directory_path() / ("strata-bench-lisa-" + std::to_string(::getpid()))).string();
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  // The "small" preset's block shape (dim 512, GQA 8/4, ffn 1376, vocab 4096) with `layers` blocks, seeded init.
  ModelInfo info = find_preset("small")->info;
  info.config.n_layers = layers;
  const ModelLayout layout = make_model_layout(info.config, DType::F32);
  write_hf_model(tmp + "/model", info, tensor_sources_from_init(layout, 1, info.initializer_range, DType::F32), {});
  const std::string model = "model.path=" + tmp + "/model";
  const Timing full = run(tmp + "/full", steps, {model, "train.mode=full"});
  const Timing lisa = run(tmp + "/lisa", steps, {model, "train.mode=lisa", "lisa.layers=2"});
  const Timing lisa_fe =
      run(tmp + "/lisa_fe", steps, {model, "train.mode=lisa", "lisa.layers=2", "lisa.train_embedding=false"});
  fs::remove_all(tmp);
  std::printf("bench_lisa_vs_full: %d blocks of the small preset (%.1fM params), 4 x 256 tokens/step, CPU, %d steps\n",
              layers, info.config.num_parameters() / 1e6, steps);
  std::printf("  full fine-tuning          %.3f s/step  device peak %.0f MiB\n", full.median_s, full.device_peak_mib);
  std::printf("  LISA 2 blocks             %.3f s/step  device peak %.0f MiB  ratio %.2f\n", lisa.median_s,
              lisa.device_peak_mib, lisa.median_s / full.median_s);
  std::printf("  LISA 2, embedding frozen  %.3f s/step device peak %.0f MiB  ratio %.2f\n", lisa_fe.median_s,
              lisa_fe.device_peak_mib, lisa_fe.median_s / full.median_s);
  return 0;
}
