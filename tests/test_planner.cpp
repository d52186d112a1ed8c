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
#include "engine/disk_space.h"
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
      // Samples during training: a KV cache and the decoder's workspace next to the training buffers.
      {"train.mode=lisa", "train.sample_every=2", "train.sample_prompts=[\"Once upon\", \"The dog\", \"A\"]"},
      {"train.precision=bf16", "train.mode=lisa", "memory.frozen_tier=host", "memory.activation_checkpointing=true",
       "train.sample_every=2", "train.sample_prompts=[\"Once upon a time\", \"The dog\"]", "train.sample_tokens=8"},
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
  // fp32 with AdamW on the device; bf16 with the host optimizer (its trained blocks need room on the host, not on
  // the device; the CPU backend's bf16 scratch exists before placement), under a host budget that sends the last
  // blocks to disk.
  const std::vector<std::vector<std::string>> cases = {
      {"lisa.layers=1"},
      {"lisa.layers=1", "train.precision=bf16", "memory.optimizer=host"},
  };
  int i = 0;
  for (const auto& extra : cases) {
    std::vector<std::string> sets = extra;
    sets.push_back("output.dir=" + tmp / ("x" + std::to_string(i)));
    std::vector<std::string> probe_sets(sets.begin() + 1, sets.end());  // gamma 2: the budget leaves room for 1
    const RunConfig probe = RunConfig::parse(kBase, "plan.toml", probe_sets);
    const Plan everything = make_plan(probe, model);
    const size_t budget = everything.peak[0] - 100000;  // a little less than everything resident: some must stream
    const size_t state = make_plan(RunConfig::parse(kBase, "plan.toml", sets), model).peak[1];  // gamma 1, resident
    const std::string dir = tmp / ("auto" + std::to_string(i++));
    sets.back() = "output.dir=" + dir;
    sets.push_back("memory.frozen_tier=auto");
    sets.push_back("memory.device_budget=" + std::to_string(budget));
    if (extra.size() > 1) {  // room for the trained block's state and one frozen block on the host; the rest to disk
      sets.push_back("memory.host_budget=" + std::to_string(state + everything.blob_bytes + 4096));
    }
    const RunConfig cfg = RunConfig::parse(kBase, "plan.toml", sets);
    const Plan plan = make_plan(cfg, model);
    SCOPED_TRACE(plan.to_text());
    ASSERT_TRUE(plan.fits) << plan.verdict;
    EXPECT_LT(plan.placement.device, model.n_layers);
    if (extra.size() > 1) {
      EXPECT_GT(plan.placement.disk, 0);
    }
    TrainOptions o;
    o.log = nullptr;
    train(cfg, o);
    const Peaks m = measured(dir);
    EXPECT_LE(m.device, budget) << "the accounted device peak must never exceed the budget";
    expect_close(m.device, plan.peak[0], "auto device");
    expect_close(m.pinned, plan.peak[1], "auto host_pinned");
  }
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

// The data bytes of a safetensors file: its size less the 8-byte length and the JSON header.
uint64_t safetensors_data_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  unsigned char len[8] = {};
  in.read(reinterpret_cast<char*>(len), 8);
  uint64_t header = 0;
  for (int i = 0; i < 8; ++i) header |= (uint64_t)len[i] << (8 * i);
  return fs::file_size(file) - 8 - header;
}

// The one checkpoint folder a run with checkpoint_every = 0 leaves.
fs::path only_checkpoint(const std::string& run_dir) {
  std::vector<fs::path> found;
  for (const auto& e : fs::directory_iterator(fs::path(run_dir) / "checkpoints"))
    if (e.path().filename().string().rfind("step_", 0) == 0) found.push_back(e.path());
  EXPECT_EQ(found.size(), 1u);
  return found.empty() ? fs::path() : found[0];
}

TEST(Planner, CheckpointBytesMatchTheFolderARealRunWrites) {
  test::TempDir tmp(fs::current_path());
  const ModelConfig model = find_preset("tiny")->info.config;
  // Each bound on the trained blocks attained: gamma x periods (one period), or every block (many periods).
  const std::vector<std::vector<std::string>> cases = {
      {"train.mode=lisa", "lisa.layers=2", "lisa.interval=1", "train.steps=12"},
      {"train.mode=lisa", "lisa.layers=1", "lisa.interval=5", "train.steps=3", "lisa.optimizer_state=keep"},
      {"train.precision=bf16", "train.mode=lisa", "lisa.layers=1", "lisa.interval=5", "train.steps=3"},
      {"train.precision=bf16", "train.mode=lisa", "lisa.layers=2", "lisa.interval=1", "train.steps=12",
       "lisa.optimizer_state=keep"},
      {"memory.optimizer=host", "train.mode=lisa", "lisa.layers=1", "lisa.interval=1", "train.steps=24",
       "lisa.optimizer_state=keep"},
      {"train.precision=bf16", "memory.optimizer=host", "train.mode=lisa", "lisa.layers=2", "lisa.interval=4",
       "train.steps=4", "lisa.train_final_norm=false"},
      {"train.precision=bf16", "train.mode=full", "train.steps=2"},
  };
  int i = 0;
  for (auto sets : cases) {
    const std::string dir = tmp / ("ck" + std::to_string(i++));
    std::string label;
    for (const auto& s : sets) label += s + " ";
    SCOPED_TRACE(label);
    sets.push_back("output.dir=" + dir);
    const RunConfig cfg = RunConfig::parse(kBase, "plan.toml", sets);
    const Plan plan = make_plan(cfg, model);
    TrainOptions o;
    o.log = nullptr;
    train(cfg, o);
    const fs::path ck = only_checkpoint(dir);
    ASSERT_FALSE(ck.empty());
    EXPECT_EQ(safetensors_data_bytes(ck / "weights.safetensors"), plan.checkpoint_weights_bytes);
    EXPECT_EQ(safetensors_data_bytes(ck / "optimizer.safetensors"), plan.checkpoint_optimizer_bytes);
    uint64_t folder = 0;
    for (const auto& f : fs::directory_iterator(ck)) folder += f.file_size();
    std::printf("  %-90s planned %9zu  folder %9llu\n", label.c_str(), plan.checkpoint_bytes,
                (unsigned long long)folder);
    EXPECT_LE(folder, plan.checkpoint_bytes) << "the headers and state.json must fit the allowance";
    EXPECT_LE(plan.checkpoint_bytes - folder, plan.checkpoint_overhead_bytes);
    EXPECT_EQ(plan.checkpoints_on_disk, 1);
    EXPECT_EQ(plan.disk_needed, plan.peak[kDiskTier] + plan.checkpoint_bytes);
  }
}

TEST(Planner, CountsTheCheckpointsOnDiskAtOnce) {
  const ModelConfig model = find_preset("tiny")->info.config;
  auto on_disk = [&](int steps, int every, int keep) {
    const RunConfig cfg = RunConfig::parse(kBase, "plan.toml",
                                           {"train.steps=" + std::to_string(steps),
                                            "output.checkpoint_every=" + std::to_string(every),
                                            "output.keep_checkpoints=" + std::to_string(keep)});
    return make_plan(cfg, model).checkpoints_on_disk;
  };
  EXPECT_EQ(on_disk(5, 0, 3), 1);    // only the final save
  EXPECT_EQ(on_disk(5, 1, 2), 3);    // keep + 1 while the newest is written
  EXPECT_EQ(on_disk(5, 2, 5), 3);    // steps 2, 4 and the final 5: fewer than keep + 1
  EXPECT_EQ(on_disk(4, 2, 5), 2);    // step 2 and the final 4 (step 4 is saved once)
  EXPECT_EQ(on_disk(200, 100, 1), 2);
  const RunConfig cfg = RunConfig::parse(kBase, "plan.toml", {"memory.frozen_tier=disk"});
  const Plan plan = make_plan(cfg, model);
  EXPECT_NE(plan.to_text().find("disk: tier file"), std::string::npos) << plan.to_text();
  const auto j = nlohmann::json::parse(plan.to_json());
  EXPECT_EQ(j["disk"]["needed_bytes"].get<uint64_t>(), plan.disk_needed);
  EXPECT_EQ(j["disk"]["tier_file_bytes"].get<uint64_t>(), plan.peak[kDiskTier]);
  EXPECT_GT(plan.peak[kDiskTier], 0u);
}

TEST(Planner, FreeDiskCheckRefusesWhenTheNeedExceedsFreeSpace) {
  test::TempDir tmp(fs::current_path());
  const ModelConfig model = find_preset("tiny")->info.config;
  const std::string run = tmp / "run";
  fs::create_directories(run);
  // Five saves, keep 2: three checkpoints at once, and the disk-tier file on the same file system.
  const RunConfig cfg = RunConfig::parse(
      kBase, "plan.toml",
      {"output.dir=" + run, "memory.frozen_tier=disk", "output.checkpoint_every=1", "output.keep_checkpoints=2"});
  const Plan plan = make_plan(cfg, model);
  const uint64_t tier = plan.peak[kDiskTier], one = plan.checkpoint_bytes;
  ASSERT_GT(tier, 0u);
  ASSERT_EQ(plan.checkpoints_on_disk, 3);
  ASSERT_EQ(plan.disk_needed, tier + 3 * one);
  std::vector<std::string> asked;
  auto free_is = [&asked](uint64_t bytes) {
    return [&asked, bytes](const std::string& dir) {
      asked.push_back(dir);
      return bytes;
    };
  };
  EXPECT_NO_THROW(check_free_disk(plan, run, "", false, free_is(plan.disk_needed)));
  ASSERT_EQ(asked.size(), 1u) << "one file system: one query for both needs";
  const std::string msg = test::error_of([&] { check_free_disk(plan, run, "", false, free_is(plan.disk_needed - 1)); });
  ASSERT_FALSE(msg.empty());
  for (const std::string& want :
       {run, std::to_string(plan.disk_needed) + " bytes", std::to_string(plan.disk_needed - 1) + " bytes",
        std::string("offload.bin"), std::string("output.keep_checkpoints"), std::string("memory.disk_path"),
        std::string("memory.frozen_tier = \"host\"")})
    EXPECT_NE(msg.find(want), std::string::npos) << "missing \"" << want << "\" in: " << msg;

  // Resuming with two checkpoints already there: only the third (and the tier file, made again) is new.
  for (const char* step : {"step_00000001", "step_00000002"}) {
    fs::create_directories(fs::path(run) / "checkpoints" / step);
    const fs::path f = fs::path(run) / "checkpoints" / step / "weights.safetensors";
    std::ofstream(f).put('x');
    fs::resize_file(f, one);
  }
  const CheckpointsOnDisk have = checkpoints_on_disk(run);
  EXPECT_EQ(have.count, 2);
  EXPECT_EQ(have.bytes, 2 * one);
  EXPECT_NO_THROW(check_free_disk(plan, run, "", true, free_is(tier + one)));
  EXPECT_FALSE(test::error_of([&] { check_free_disk(plan, run, "", true, free_is(tier + one - 1)); }).empty());
  EXPECT_FALSE(test::error_of([&] { check_free_disk(plan, run, "", false, free_is(tier + one)); }).empty());
  // The real statvfs query: this file system has room for a tiny run.
  EXPECT_NO_THROW(check_free_disk(plan, run, "", false));
  EXPECT_GT(free_disk_bytes(run), 0u);
}

TEST(Planner, SuggestionsForAHostBudgetFailureNameTheHostBudget) {
  const ModelConfig model = find_preset("tiny")->info.config;
  // Frozen blocks and parked moments in pinned memory, a host budget below the blocks alone.
  const RunConfig cfg = RunConfig::parse(kBase, "plan.toml",
                                         {"train.mode=lisa", "lisa.layers=1", "lisa.optimizer_state=keep",
                                          "memory.frozen_tier=host", "memory.host_budget=2MB"});
  const Plan plan = make_plan(cfg, model);
  ASSERT_FALSE(plan.fits);
  EXPECT_NE(plan.verdict.find("> host budget"), std::string::npos) << plan.verdict;
  EXPECT_EQ(plan.verdict.find("> device budget"), std::string::npos) << plan.verdict;
  ASSERT_FALSE(plan.suggestions.empty()) << plan.to_text();
  bool names_host_budget = false;
  for (const std::string& s : plan.suggestions) {
    SCOPED_TRACE(s);
    const bool fits = s.size() >= 7 && s.substr(s.size() - 7) == "-> fits";
    EXPECT_TRUE(fits || s.find("-> still too large") != std::string::npos);
    if (!fits) {
      EXPECT_NE(s.find("> host budget"), std::string::npos) << "a failing suggestion says which budget fails";
      names_host_budget = true;
    }
    // Changes that leave the host peak where it is are not listed.
    EXPECT_EQ(s.find("activation_checkpointing"), std::string::npos);
    EXPECT_EQ(s.find("micro_batch"), std::string::npos);
    EXPECT_EQ(s.find("memory.optimizer"), std::string::npos);
  }
  EXPECT_TRUE(names_host_budget) << plan.to_text();
  EXPECT_NE(plan.suggestions.back().find("all of the above"), std::string::npos);
}

}  // namespace
}  // namespace strata
