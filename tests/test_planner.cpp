// Planner accuracy: for small runs covering full/LISA, frozen tier device/host/disk/auto and checkpointing on/off,
// the measured peak bytes per tier (the accounted allocator's peaks, from metrics.jsonl) are within 5% of the plan
// and never above the budget; plus the real-shape figures the README quotes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/check.h"
#include "tests/support/temp_dir.h"
#include "plan/planner.h"
#include "engine/trainer.h"
#include "core/byte_size.h"
#include "model/presets.h"

namespace strata {
namespace {

namespace fs = std::filesystem;
using test::error_of;

const char* kBase = R"(
[model]
preset = "tiny"
[data]
train = "synthetic"
synthetic_documents = 150
seq_len = 48
[train]
steps = 5
micro_batch = 3
warmup_steps = 1
eval_every = 0
[lisa]
interval = 2
[output]
checkpoint_every = 0
)";

struct Peaks {
  uint64_t device = 0, pinned = 0, host = 0;
};

Peaks measured(const std::string& dir) {
  std::ifstream in(fs::path(dir) / "metrics.jsonl");
  Peaks p;
  std::string line;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    if (!j.contains("memory")) continue;
    p.device = std::max<uint64_t>(p.device, j["memory"]["device_peak"]);
    p.pinned = std::max<uint64_t>(p.pinned, j["memory"]["host_pinned_peak"]);
    p.host = std::max<uint64_t>(p.host, j["memory"]["host_peak"]);
  }
  return p;
}

void expect_close(uint64_t got, uint64_t planned, const std::string& what) {
  if (planned == 0) {
    EXPECT_EQ(got, 0u) << what;
    return;
  }
  const double rel = std::abs((double)got - (double)planned) / (double)planned;
  std::printf("  %-40s planned %10llu  measured %10llu  (%.2f%%)\n", what.c_str(), (unsigned long long)planned,
              (unsigned long long)got, rel * 100);
  EXPECT_LE(rel, 0.05) << what << ": planned " << planned << ", measured " << got;
}

TEST(Planner, PredictsMeasuredPeaksWithinFivePercent) {
  test::TempDir tmp(fs::current_path());
  const ModelConfig model = find_preset("tiny")->info.config;
  const std::vector<std::vector<std::string>> cases = {
      {"train.mode=full"},
      {"train.mode=lisa", "lisa.layers=2", "memory.activation_checkpointing=true"},
      {"train.mode=lisa", "lisa.layers=1", "memory.frozen_tier=host"},
      {"train.mode=lisa", "lisa.layers=2", "memory.frozen_tier=disk", "memory.prefetch=3",
       "memory.activation_checkpointing=true"},
      {"train.mode=full", "memory.frozen_tier=host", "memory.activation_checkpointing=true"},
      // The bf16 engine: half-size blobs and bf16 gradients, fp32 masters (parked with the moments under keep),
      // bf16 checkpointed block inputs.
      {"train.precision=bf16", "train.mode=full"},
      // keep: enough re-samplings that a parked block comes back while every other inactive block is parked
      {"train.mode=lisa", "lisa.layers=1", "lisa.interval=1", "train.steps=24", "lisa.optimizer_state=keep"},
      {"train.precision=bf16", "train.mode=lisa", "lisa.layers=2", "memory.frozen_tier=host", "lisa.interval=1",
       "train.steps=24", "lisa.optimizer_state=keep", "memory.activation_checkpointing=true"},
      // The host optimizer: masters, moments and gradient staging in pinned memory, none of it on the device;
      // under keep, parked state stays where it is.
      {"memory.optimizer=host", "train.mode=lisa", "lisa.layers=2"},
      {"train.precision=bf16", "memory.optimizer=host", "train.mode=lisa", "lisa.layers=1", "lisa.interval=1",
       "train.steps=24", "lisa.optimizer_state=keep", "memory.frozen_tier=host"},
  };
  int i = 0;
  for (auto sets : cases) {
    const std::string dir = tmp / std::to_string(i++);
    sets.push_back("output.dir=" + dir);
    const RunConfig cfg = RunConfig::parse(kBase, "plan.toml", sets);
    const Plan plan = make_plan(cfg, model);
    std::string label;
    for (size_t k = 0; k + 1 < sets.size(); ++k) label += sets[k] + " ";
    SCOPED_TRACE(label);
    TrainOptions o;
    o.log = nullptr;
    train(cfg, o);
    const Peaks m = measured(dir);
    expect_close(m.device, plan.peak[(int)MemoryKind::Device], label + "device");
    expect_close(m.pinned, plan.peak[(int)MemoryKind::HostPinned], label + "host_pinned");
    expect_close(m.host, plan.peak[(int)MemoryKind::Host], label + "host");
    // plan.json in the run folder is this plan.
    std::ifstream pj(fs::path(dir) / "plan.json");
    const auto j = nlohmann::json::parse(pj);
    EXPECT_EQ(j["peak"]["device"].get<uint64_t>(), plan.peak[0]);
  }
}

TEST(Planner, AutoPlacementStaysWithinTheBudgetAndMatchesThePlan) {
  test::TempDir tmp(fs::current_path());
  const ModelConfig model = find_preset("tiny")->info.config;
  const RunConfig probe = RunConfig::parse(kBase, "plan.toml", {"output.dir=" + tmp / "x"});
  const size_t all_resident = make_plan(probe, model).peak[0];
  const size_t budget = all_resident - 100000;  // a little less than everything resident: some blocks must stream
  const std::string dir = tmp / "auto";
  const RunConfig cfg = RunConfig::parse(
      kBase, "plan.toml",
      {"output.dir=" + dir, "memory.frozen_tier=auto", "memory.device_budget=" + std::to_string(budget),
       "lisa.layers=1"});
  const Plan plan = make_plan(cfg, model);
  ASSERT_TRUE(plan.fits) << plan.verdict;
  EXPECT_LT(plan.placement.device, model.n_layers);
  TrainOptions o;
  o.log = nullptr;
  train(cfg, o);
  const Peaks m = measured(dir);
  EXPECT_LE(m.device, budget) << "the accounted device peak must never exceed the budget";
  expect_close(m.device, plan.peak[0], "auto device");
}

TEST(Planner, RefusesARunThatDoesNotFitBeforeStepOne) {
  test::TempDir tmp(fs::current_path());
  const std::string dir = tmp / "r";
  const RunConfig cfg = RunConfig::parse(kBase, "plan.toml", {"output.dir=" + dir, "memory.device_budget=4MiB"});
  try {
    TrainOptions o;
    o.log = nullptr;
    train(cfg, o);
    FAIL() << "expected a refusal";
  } catch (const StrataError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("does not fit"), std::string::npos) << msg;
    EXPECT_NE(msg.find("changes that would help"), std::string::npos) << msg;
  }
  EXPECT_FALSE(fs::exists(dir)) << "a refused run writes nothing";
}

TEST(Planner, Llama2_70bLisaFitsIn48GB) {
  RunConfig cfg = RunConfig::parse(R"(
[model]
preset = "llama2-70b"
[data]
train = "synthetic"
seq_len = 2048
[train]
micro_batch = 1
[lisa]
layers = 2
[memory]
backend = "cuda:0"
activation_checkpointing = true
frozen_tier = "host"
prefetch = 1
)", "70b.toml");
  const ModelConfig model = find_preset("llama2-70b")->info.config;
  PlanOptions bf16;
  bf16.precision = Precision::BF16;
  const Plan device_adam = make_plan(cfg, model, bf16);
  EXPECT_LE(device_adam.peak[0], 48e9) << device_adam.to_text();
  RunConfig lean_cfg = cfg;
  lean_cfg.memory.optimizer = OptimizerPlacement::Host;
  const Plan lean = make_plan(lean_cfg, model, bf16);
  EXPECT_LE(lean.peak[0], 20e9) << lean.to_text();
  std::printf("%s\n%s\n", device_adam.to_text().c_str(), lean.to_text().c_str());
}

TEST(Planner, BudgetStringsParseOrNameTheAcceptedForms) {
  EXPECT_EQ(parse_byte_size("24 GiB", "x"), 24ull << 30);
  EXPECT_EQ(parse_byte_size("24GB", "x"), 24000000000ull);
  EXPECT_EQ(parse_byte_size("2.5e10", "x"), 25000000000ull);
  EXPECT_EQ(parse_byte_size("512MiB", "x"), 512ull << 20);
  try {
    parse_byte_size("24 gigs", "--device-budget");
    FAIL();
  } catch (const StrataError& e) {
    EXPECT_NE(std::string(e.what()).find("KiB, MiB, GiB"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace strata
