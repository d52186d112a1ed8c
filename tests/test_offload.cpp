// Tiered memory end to end: training with frozen blocks on the device, in the host tier, or in the disk tier
// (io_uring and the pread fallback), with prefetch 1 and 3, gives bitwise the same losses and final weights; auto
// placement respects the device budget, and a budget that cannot work fails before step 1. OffloadOnDevice repeats the
// tier checks through the CUDA backend, where the streamer takes its device path (pinned staging buffers, a copy
// stream, events between the copies and the compute stream, slot reuse): on the CPU emulation of the device
// ("cuda-emu", every machine, with shorter runs: it is slower) and on a GPU ("cuda:0", skipped without one).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "backend/cpu/cpu_backend.h"
#include "engine/base_weights.h"
#include "core/check.h"
#include "tests/support/backends.h"
#include "tests/support/run_weights.h"
#include "tests/support/temp_dir.h"
#include "engine/trainer.h"
#include "model/presets.h"

namespace strata {
namespace {

namespace fs = std::filesystem;
using test::error_of;

const char* kBase = R"(
[model]
preset = "tiny"
init_seed = 9
[data]
train = "synthetic"
synthetic_documents = 150
seq_len = 32
[train]
steps = 12
micro_batch = 2
lr = 2e-3
warmup_steps = 2
weight_decay = 0.01
eval_every = 0
[lisa]
layers = 1
interval = 3
[output]
checkpoint_every = 0
)";

struct Outcome {
  std::vector<double> losses;
  std::vector<unsigned char> weights;
  std::vector<nlohmann::json> metrics;
};

using test::final_weights;

Outcome run(const std::string& dir, std::vector<std::string> sets) {
  sets.push_back("output.dir=" + dir);
  TrainOptions o;
  o.log = nullptr;
  Outcome out;
  out.losses = train(RunConfig::parse(kBase, "offload.toml", sets), o).losses;
  out.weights = final_weights(dir);
  std::ifstream in(fs::path(dir) / "metrics.jsonl");
  std::string line;
  while (std::getline(in, line)) out.metrics.push_back(nlohmann::json::parse(line));
  return out;
}

// The same run stopped after `stop_at` steps (trained blocks already written back to their tier) and resumed.
Outcome run_stopped_and_resumed(const std::string& dir, std::vector<std::string> sets, int stop_at) {
  sets.push_back("output.dir=" + dir);
  TrainOptions first;
  first.log = nullptr;
  first.stop_at_step = stop_at;
  Outcome out;
  out.losses = train(RunConfig::parse(kBase, "offload.toml", sets), first).losses;
  TrainOptions resume;
  resume.log = nullptr;
  resume.resume_dir = dir;
  const TrainResult b = train(RunConfig::parse(kBase, "offload.toml", sets), resume);
  out.losses.insert(out.losses.end(), b.losses.begin(), b.losses.end());
  out.weights = final_weights(dir);
  return out;
}

void expect_same(const Outcome& a, const Outcome& b, const std::string& what) {
  ASSERT_EQ(a.losses.size(), b.losses.size()) << what;
  for (size_t i = 0; i < a.losses.size(); ++i)
    EXPECT_EQ(std::memcmp(&a.losses[i], &b.losses[i], sizeof(double)), 0) << what << " step " << i + 1;
  EXPECT_EQ(a.weights, b.weights) << what << ": final weights differ";
}

uint64_t total(const Outcome& o, const char* key) {
  uint64_t s = 0;
  for (const auto& j : o.metrics)
    if (j.contains("io")) s += j["io"][key].get<uint64_t>();
  return s;
}

TEST(Offload, EveryTierGivesBitwiseIdenticalTraining) {
  test::TempDir tmp(fs::current_path());
  for (const char* mode : {"lisa", "full"}) {
    const std::string m = std::string("train.mode=") + mode;
    const Outcome device = run(tmp / (std::string(mode) + "-device"), {m, "memory.frozen_tier=device"});
    int i = 0;
    for (const char* tier : {"host", "disk"})
      for (const char* io : {"uring", "pread"})
        for (const char* prefetch : {"1", "3"}) {
          if (std::string(tier) == "host" && std::string(io) == "pread") continue;  // io only matters for disk
          const std::string what = std::string(mode) + " " + tier + " " + io + " prefetch " + prefetch;
          const Outcome o = run(tmp / (std::string(mode) + std::to_string(i++)),
                                {m, std::string("memory.frozen_tier=") + tier, std::string("memory.io=") + io,
                                 std::string("memory.prefetch=") + prefetch});
          expect_same(device, o, what);
          if (std::string(mode) == "lisa") {
            const char* key = std::string(tier) == "host" ? "host_read_bytes" : "disk_read_bytes";
            EXPECT_GT(total(o, key), 0u) << what << ": frozen blocks must actually stream";
          }
        }
  }
}

// The bf16 engine streams half-size blobs: every tier must still give the device run's bits (LISA, keep policy, so
// parked fp32 masters come back too).
TEST(Offload, Bf16TiersGiveBitwiseIdenticalTraining) {
  test::TempDir tmp(fs::current_path());
  const std::vector<std::string> base = {"train.precision=bf16", "lisa.optimizer_state=keep"};
  auto with = [&](std::vector<std::string> extra) {
    extra.insert(extra.begin(), base.begin(), base.end());
    return extra;
  };
  const Outcome device = run(tmp / "device", with({"memory.frozen_tier=device"}));
  const Outcome host = run(tmp / "host", with({"memory.frozen_tier=host"}));
  const Outcome disk = run(tmp / "disk", with({"memory.frozen_tier=disk", "memory.prefetch=1"}));
  expect_same(device, host, "bf16 host tier");
  expect_same(device, disk, "bf16 disk tier");
  EXPECT_GT(total(disk, "disk_read_bytes"), 0u);
  // With checkpointing the saved block inputs are bf16 too: still identical across tiers.
  const Outcome ck_device = run(tmp / "ck-device", with({"memory.frozen_tier=device", "memory.activation_checkpointing=true"}));
  const Outcome ck_disk = run(tmp / "ck-disk", with({"memory.frozen_tier=disk", "memory.activation_checkpointing=true"}));
  expect_same(ck_device, ck_disk, "bf16 disk tier with checkpointing");
  const Outcome f32 = run(tmp / "f32", {"lisa.optimizer_state=keep", "memory.frozen_tier=host"});
  EXPECT_LT(total(host, "host_read_bytes"), total(f32, "host_read_bytes") * 6 / 10) << "bf16 blobs stream half the bytes";
}

TEST(Offload, ResumeWithBlocksInTiersIsBitwiseExact) {
  test::TempDir tmp(fs::current_path());
  for (const char* precision : {"fp32", "bf16"})
  for (const char* tier : {"host", "disk"}) {
    const std::vector<std::string> sets = {std::string("memory.frozen_tier=") + tier, "lisa.optimizer_state=keep",
                                           std::string("train.precision=") + precision};
    const std::string tag = std::string(precision) + "-" + tier;
    const Outcome straight = run(tmp / (tag + "-straight"), sets);
    // Stop after 5 steps (mid-period, with trained blocks already written back to the tier), then resume.
    const Outcome resumed = run_stopped_and_resumed(tmp / (tag + "-resumed"), sets, 5);
    expect_same(straight, resumed, std::string("resume with ") + tier + " tier");
  }
}

uint64_t peak(const Outcome& o, const char* key = "device_peak") {
  uint64_t p = 0;
  for (const auto& j : o.metrics)
    if (j.contains("memory")) p = std::max<uint64_t>(p, j["memory"][key].get<uint64_t>());
  return p;
}

size_t block_bytes() { return make_model_layout(find_preset("tiny")->info.config, DType::F32).block.bytes; }

TEST(Offload, KeepPolicyAndCheckpointingStreamIdentically) {
  test::TempDir tmp(fs::current_path());
  for (const char* extra : {"lisa.optimizer_state=keep", "memory.activation_checkpointing=true"}) {
    const Outcome device = run(tmp / (std::string("dev-") + extra), {extra});
    const Outcome disk = run(tmp / (std::string("disk-") + extra), {extra, "memory.frozen_tier=disk"});
    expect_same(device, disk, extra);
    EXPECT_GT(total(disk, "disk_read_bytes"), 0u);
    EXPECT_GT(total(disk, "disk_write_bytes"), 0u) << "deactivated blocks are written back to their tier";
  }
}

TEST(Offload, AutoPlacementRespectsTheDeviceBudget) {
  test::TempDir tmp(fs::current_path());
  const Outcome device = run(tmp / "device", {});
  // Auto keeps room for the trained block (weights, grads, 2 moments) and prefetch + 1 slots; this budget leaves
  // room for about two resident frozen blocks, so the other two stream.
  const uint64_t budget = peak(device) + 2 * block_bytes() + block_bytes() / 2;
  const std::string b = "memory.device_budget=" + std::to_string(budget);
  const Outcome a = run(tmp / "auto", {"memory.frozen_tier=auto", b});
  expect_same(device, a, "auto");
  EXPECT_LE(peak(a), budget) << "the accounted device peak must stay within the budget";
  EXPECT_GT(total(a, "host_read_bytes"), 0u) << "some blocks must stream from the host tier";
  EXPECT_EQ(total(a, "disk_read_bytes"), 0u);
  // A host budget of one block: the rest spills to the disk tier.
  const Outcome spill = run(tmp / "spill", {"memory.frozen_tier=auto", b,
                                            "memory.host_budget=" + std::to_string(block_bytes() * 3 / 2)});
  expect_same(device, spill, "auto with spill");
  EXPECT_GT(total(spill, "disk_read_bytes"), 0u);
  EXPECT_GT(total(spill, "host_read_bytes"), 0u);
}

TEST(Offload, TooSmallBudgetFailsBeforeStepOne) {
  test::TempDir tmp(fs::current_path());
  const Outcome device = run(tmp / "device", {});
  for (const uint64_t budget : {peak(device) / 4, peak(device) - 2 * block_bytes()}) {
    SCOPED_TRACE("budget " + std::to_string(budget));
    const std::string dir = tmp / ("small" + std::to_string(budget));
    try {
      run(dir, {"memory.frozen_tier=auto", "memory.device_budget=" + std::to_string(budget)});
      FAIL() << "expected the budget to be refused";
    } catch (const StrataError& e) {
      const std::string msg = e.what();
      EXPECT_TRUE(msg.find("device_budget") != std::string::npos || msg.find("device budget") != std::string::npos)
          << msg;
    }
    EXPECT_FALSE(fs::exists(dir + "/metrics.jsonl")) << "nothing may run with a budget that cannot work";
  }
}

// memory.disk_path naming a file that exists (here: the base model's weights) is refused before anything runs, and
// the file is left exactly as it was (it used to be truncated and deleted at exit).
TEST(Offload, DiskPathNamingAnExistingFileIsRefusedAndTheFileKept) {
  test::TempDir tmp(fs::current_path());
  const std::string precious = tmp / "model.safetensors";
  const std::string content = "the user's own bytes, not Strata's";
  std::ofstream(precious, std::ios::binary) << content;
  const std::string dir = tmp / "run";
  try {
    run(dir, {"memory.frozen_tier=disk", "memory.disk_path=" + precious});
    FAIL() << "expected memory.disk_path to be refused";
  } catch (const StrataError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("memory.disk_path"), std::string::npos) << msg;
    EXPECT_NE(msg.find("already exists"), std::string::npos) << msg;
  }
  std::ifstream in(precious, std::ios::binary);
  const std::string after((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(after, content) << "the existing file must be untouched";
  EXPECT_FALSE(fs::exists(dir)) << "a refused run writes nothing";
}

// ---- the tiers through the CUDA backend: the streamer's device path ------------------------------------------------

class OffloadOnDevice : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string why;
    if (!test::backend_available(GetParam(), &why)) GTEST_SKIP() << GetParam() << ": " << why;
  }
  bool emulated() const { return GetParam().rfind("cuda-emu", 0) == 0; }
  // `sets` plus the backend; the emulated device runs kernels thread by thread, so its runs are shorter (one
  // sequence a step; 6 steps, 4 in bf16, whose tensor-core attention is the slowest to emulate: still two LISA
  // periods, so blocks change places between the tiers and the device).
  std::vector<std::string> with(std::vector<std::string> sets, bool bf16 = false) const {
    sets.push_back("memory.backend=" + GetParam());
    if (emulated()) {
      sets.push_back("train.micro_batch=1");
      sets.push_back(bf16 ? "train.steps=4" : "train.steps=6");
    }
    if (bf16) sets.push_back("train.precision=bf16");
    return sets;
  }
};

TEST_P(OffloadOnDevice, HostAndDiskTiersGiveBitwiseIdenticalTraining) {
  test::TempDir tmp(fs::current_path());
  const Outcome device = run(tmp / "device", with({"memory.frozen_tier=device"}));
  EXPECT_EQ(total(device, "host_read_bytes") + total(device, "disk_read_bytes"), 0u);
  struct Variant {
    const char *tier, *io;
    int prefetch;
  };
  int i = 0;
  for (const Variant v : {Variant{"host", "uring", 1}, Variant{"host", "uring", 3}, Variant{"disk", "uring", 1},
                          Variant{"disk", "pread", 3}}) {
    const std::string what = GetParam() + " " + v.tier + " " + v.io + " prefetch " + std::to_string(v.prefetch);
    const Outcome o = run(tmp / ("tier" + std::to_string(i++)),
                          with({std::string("memory.frozen_tier=") + v.tier, std::string("memory.io=") + v.io,
                                "memory.prefetch=" + std::to_string(v.prefetch)}));
    expect_same(device, o, what);
    const char* key = std::string(v.tier) == "host" ? "host_read_bytes" : "disk_read_bytes";
    EXPECT_GT(total(o, key), 0u) << what << ": frozen blocks must actually stream";
    // Device memory is not host-addressable here: each of the prefetch + 1 slots has a pinned staging buffer.
    EXPECT_GE(peak(o, "host_pinned_peak"), (uint64_t)(v.prefetch + 1) * block_bytes()) << what;
  }
}

TEST_P(OffloadOnDevice, Bf16TiersGiveBitwiseIdenticalTraining) {
  test::TempDir tmp(fs::current_path());
  const Outcome device = run(tmp / "device", with({"memory.frozen_tier=device", "lisa.optimizer_state=keep"}, true));
  const Outcome host = run(tmp / "host", with({"memory.frozen_tier=host", "lisa.optimizer_state=keep"}, true));
  const Outcome disk =
      run(tmp / "disk", with({"memory.frozen_tier=disk", "memory.prefetch=1", "lisa.optimizer_state=keep"}, true));
  expect_same(device, host, GetParam() + " bf16 host tier");
  expect_same(device, disk, GetParam() + " bf16 disk tier");
  EXPECT_GT(total(host, "host_read_bytes"), 0u);
  EXPECT_GT(total(disk, "disk_read_bytes"), 0u);
}

TEST_P(OffloadOnDevice, ResumeWithBlocksOnDiskIsBitwiseExact) {
  test::TempDir tmp(fs::current_path());
  const std::vector<std::string> sets = with({"memory.frozen_tier=disk", "lisa.optimizer_state=keep"});
  const Outcome straight = run(tmp / "straight", sets);
  // Stop mid-period (trained blocks already written back to the tier), then resume.
  const Outcome resumed = run_stopped_and_resumed(tmp / "resumed", sets, 4);
  expect_same(straight, resumed, GetParam() + " resume with the disk tier");
}

INSTANTIATE_TEST_SUITE_P(Backends, OffloadOnDevice, ::testing::ValuesIn(test::cuda_backends()),
                         [](const ::testing::TestParamInfo<std::string>& i) { return test::backend_id(i.param); });

}  // namespace
}  // namespace strata
