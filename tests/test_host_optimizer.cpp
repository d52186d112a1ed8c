// memory.optimizer = "host" against "device": the same losses and weights bit for bit (fp32 and bf16, reset and keep,
// across a save/resume), on the CPU backend and through the CUDA backend (emulated everywhere, real on a GPU).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/trainer.h"
#include "model/presets.h"
#include "plan/planner.h"
#include "tests/support/backends.h"
#include "tests/support/run_weights.h"
#include "tests/support/temp_dir.h"
#include "tests/support/training_run.h"

namespace strata {
namespace {

const char* kBase = R"(
[model]
preset = "tiny"
init_seed = 9
[data]
train = "synthetic"
synthetic_documents = 150
seq_len = 32
[train]
micro_batch = 2
grad_accum = 2
lr = 2e-3
warmup_steps = 2
weight_decay = 0.01
grad_clip = 0.5
eval_every = 0
[lisa]
layers = 2
interval = 3
[output]
checkpoint_every = 0
)";

void expect_bitwise_equal(const std::vector<double>& a, const std::vector<double>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(std::memcmp(&a[i], &b[i], sizeof(double)), 0) << "step " << i + 1;
}

class HostOptimizer : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string why;
    if (!test::backend_available(GetParam(), &why)) GTEST_SKIP() << GetParam() << ": " << why;
  }
  bool emulated() const { return GetParam().rfind("cuda-emu", 0) == 0; }
};

// A straight run with the device optimizer against a host-optimizer run stopped in the first LISA period and
// resumed into the next: every loss and the final weights agree bit for bit.
TEST_P(HostOptimizer, EqualsTheDeviceOptimizerBitForBitAcrossAResume) {
  for (const std::string precision : {"fp32", "bf16"})
    for (const std::string policy : {"reset", "keep"}) {
      // The emulated device runs kernels thread by thread: shorter runs, one sequence per micro-batch.
      SCOPED_TRACE(GetParam() + ", " + precision + ", " + policy);
      const int steps = emulated() ? (precision == "bf16" ? 4 : 6) : 12, stop = steps / 2;
      std::vector<std::string> sets = {"memory.backend=" + GetParam(), "train.precision=" + precision,
                                       "lisa.optimizer_state=" + policy, "train.steps=" + std::to_string(steps)};
      if (emulated()) sets.push_back("train.micro_batch=1");
      test::TempDir tmp;
      const TrainResult device = train(test::run_config_in(kBase, tmp / "device", sets), test::quiet());
      ASSERT_EQ(device.losses.size(), (size_t)steps);

      sets.push_back("memory.optimizer=host");
      TrainOptions first = test::quiet();
      first.stop_at_step = stop;
      const TrainResult half = train(test::run_config_in(kBase, tmp / "host", sets), first);
      ASSERT_TRUE(half.interrupted);
      const TrainResult rest = train(test::run_config_in(kBase, tmp / "host", sets), test::resuming(tmp / "host"));
      EXPECT_EQ(rest.first_step, stop);
      std::vector<double> joined = half.losses;
      joined.insert(joined.end(), rest.losses.begin(), rest.losses.end());
      expect_bitwise_equal(joined, device.losses);
      EXPECT_EQ(test::final_weights(tmp / "device"), test::final_weights(tmp / "host"));
      EXPECT_LT(device.losses.back(), device.losses.front()) << "the loss should fall";
    }
}

// configs/llama2-70b-lisa.toml with the host optimizer, its mechanics on the tiny preset: bf16, gamma 2, frozen
// blocks streamed from pinned host memory, checkpointing, prefetch 1, micro-batch 1. It trains, no optimizer state
// or master weight lands on the device, and the device peak is the plan's.
TEST(HostOptimizerConfig, TheLlama70bLisaConfigTrainsOnATinyModel) {
  test::TempDir tmp;
  const std::string path =
      (std::filesystem::path(STRATA_GOLDEN_DIR).parent_path().parent_path() / "configs" / "llama2-70b-lisa.toml")
          .string();
  const RunConfig cfg = RunConfig::load(
      path, {"memory.optimizer=host", "model.preset=tiny", "data.train=synthetic", "data.format=auto",
             "data.synthetic_documents=100", "data.seq_len=32", "memory.backend=cpu", "memory.device_budget=",
             "train.steps=6", "train.grad_accum=2", "train.warmup_steps=1", "train.lr=2e-3", "lisa.interval=2",
             "output.dir=" + (tmp / "run"), "output.checkpoint_every=3"});
  const Plan plan = make_plan(cfg, find_preset("tiny")->info.config);
  constexpr int kDev = (int)MemoryKind::Device;
  EXPECT_EQ(plan.bytes[kDev][(int)MemoryCategory::OptimizerState], 0u);
  EXPECT_EQ(plan.bytes[kDev][(int)MemoryCategory::MasterWeights], 0u);
  EXPECT_GT(plan.bytes[(int)MemoryKind::HostPinned][(int)MemoryCategory::OptimizerState], 0u);
  const TrainResult r = train(cfg, test::quiet());
  ASSERT_EQ(r.losses.size(), 6u);
  EXPECT_LT(r.losses.back(), r.losses.front()) << "the loss should fall";
  uint64_t device_peak = 0;
  std::ifstream in(std::filesystem::path(tmp / "run") / "metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    if (j.contains("memory")) device_peak = std::max<uint64_t>(device_peak, j["memory"]["device_peak"]);
  }
  EXPECT_LE(std::abs((double)device_peak - (double)plan.peak[kDev]), 0.05 * (double)plan.peak[kDev])
      << "measured " << device_peak << ", planned " << plan.peak[kDev];
}

std::vector<std::string> all_backends() {
  std::vector<std::string> b = {"cpu"};
  for (const std::string& c : test::cuda_backends()) b.push_back(c);
  return b;
}

INSTANTIATE_TEST_SUITE_P(Backends, HostOptimizer, ::testing::ValuesIn(all_backends()),
                         [](const ::testing::TestParamInfo<std::string>& i) { return test::backend_id(i.param); });

}  // namespace
}  // namespace strata
