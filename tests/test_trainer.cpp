// Training-run invariants on the CPU backend: exact resume (bitwise losses and weights), LISA with gamma = n_layers
// equals full fine-tuning bit for bit, LISA re-sampling does not grow device memory, and bad runs fail clearly.
// The first three also run through the CUDA backend (TrainerOnDevice): on the CPU emulation of the device
// ("cuda-emu", every machine, with shorter runs: it is slower) and on a GPU ("cuda:0", skipped without one).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "engine/base_weights.h"
#include "core/check.h"
#include "tests/support/backends.h"
#include "tests/support/run_weights.h"
#include "tests/support/temp_dir.h"
#include "tests/support/training_run.h"
#include "engine/checkpoint.h"
#include "engine/trainer.h"

namespace strata {
namespace {

namespace fs = std::filesystem;
using test::error_of;

const char* kBase = R"(
[model]
preset = "tiny"
init_seed = 5
[data]
train = "synthetic"
synthetic_documents = 150
seq_len = 32
[train]
steps = 16
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

RunConfig config(const std::string& dir, std::vector<std::string> sets = {}) {
  return test::run_config_in(kBase, dir, std::move(sets));
}
using test::quiet;

using test::final_weights;

void expect_bitwise_equal(const std::vector<double>& a, const std::vector<double>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(std::memcmp(&a[i], &b[i], sizeof(double)), 0) << "step " << i;
}

TEST(Trainer, ResumeIsBitwiseExact) {
  for (const char* precision : {"fp32", "bf16"})
  for (const char* policy : {"reset", "keep"}) {
    SCOPED_TRACE(std::string(precision) + ", " + policy);
    test::TempDir tmp;
    const std::vector<std::string> sets = {std::string("lisa.optimizer_state=") + policy,
                                           std::string("train.precision=") + precision};
    const TrainResult straight = train(config(tmp / "a", sets), quiet());
    ASSERT_EQ(straight.losses.size(), 16u);

    TrainOptions first = quiet();
    first.stop_at_step = 8;
    const TrainResult half = train(config(tmp / "b", sets), first);
    EXPECT_TRUE(half.interrupted);
    EXPECT_EQ(half.steps_done, 8);
    TrainOptions resume = quiet();
    resume.resume_dir = tmp / "b";
    const TrainResult rest = train(config(tmp / "b", sets), resume);
    EXPECT_EQ(rest.first_step, 8);
    EXPECT_EQ(rest.steps_done, 16);

    std::vector<double> joined = half.losses;
    joined.insert(joined.end(), rest.losses.begin(), rest.losses.end());
    expect_bitwise_equal(joined, straight.losses);
    EXPECT_EQ(final_weights(tmp / "a"), final_weights(tmp / "b")) << policy;
    EXPECT_LT(straight.losses.back(), straight.losses.front()) << "the loss should fall";
  }
}

TEST(Trainer, LisaWithAllLayersEqualsFullFineTuning) {
  for (const std::string precision : {"fp32", "bf16"}) {
    SCOPED_TRACE(precision);
    test::TempDir tmp;
    const std::string p = "train.precision=" + precision;
    const TrainResult lisa = train(config(tmp / "lisa", {"lisa.layers=4", p}), quiet());
    const TrainResult full = train(config(tmp / "full", {"train.mode=full", p}), quiet());
    expect_bitwise_equal(lisa.losses, full.losses);
    EXPECT_EQ(final_weights(tmp / "lisa"), final_weights(tmp / "full"));
    const TrainResult partial = train(config(tmp / "partial", {p}), quiet());
    EXPECT_NE(partial.losses.back(), full.losses.back()) << "gamma < n_layers must differ from full fine-tuning";
  }
}

// The bf16 engine trains like the fp32 one: same start (bf16-rounded weights), a loss curve that stays close, and
// it is a different computation (not silently fp32).
TEST(Trainer, Bf16TracksFp32) {
  test::TempDir tmp;
  const TrainResult f32 = train(config(tmp / "f32"), quiet());
  const TrainResult b16 = train(config(tmp / "b16", {"train.precision=bf16"}), quiet());
  ASSERT_EQ(f32.losses.size(), b16.losses.size());
  for (size_t i = 0; i < f32.losses.size(); ++i)
    EXPECT_NEAR(b16.losses[i], f32.losses[i], 0.02 * f32.losses[i]) << "step " << i + 1;
  EXPECT_NE(b16.losses.front(), f32.losses.front());
  EXPECT_LT(b16.losses.back(), b16.losses.front() - 0.2);
  std::printf("fp32 loss %.4f -> %.4f; bf16 loss %.4f -> %.4f\n", f32.losses.front(), f32.losses.back(),
              b16.losses.front(), b16.losses.back());
}

// Device bytes after each step, from metrics.jsonl.
std::vector<size_t> device_bytes(const std::string& run_dir, const char* key) {
  std::ifstream in(fs::path(run_dir) / "metrics.jsonl");
  std::vector<size_t> out;
  std::string line;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    if (j.contains("memory")) out.push_back(j["memory"][key].get<size_t>());
  }
  return out;
}

TEST(Trainer, ResamplingDoesNotGrowDeviceMemory) {
  test::TempDir tmp;
  const TrainResult r =
      train(config(tmp / "r", {"lisa.interval=1", "train.steps=21", "lisa.layers=1", "train.grad_accum=1"}), quiet());
  std::set<std::vector<int>> distinct(r.active_blocks.begin(), r.active_blocks.end());
  EXPECT_GE(distinct.size(), 3u) << "the sampler should visit several blocks";
  const auto dev = device_bytes(tmp / "r", "device");
  ASSERT_EQ(dev.size(), 21u);
  for (size_t i = 1; i < dev.size(); ++i) EXPECT_EQ(dev[i], dev[0]) << "device bytes changed at step " << i + 1;
  const auto peak = device_bytes(tmp / "r", "device_peak");
  EXPECT_EQ(peak.back(), peak.front()) << "re-sampling must not raise the device peak";
  // With "keep", parked state lives in host memory, never on the device.
  const TrainResult k = train(config(tmp / "k", {"lisa.interval=1", "train.steps=21", "lisa.layers=1",
                                                 "lisa.optimizer_state=keep"}),
                              quiet());
  const auto kdev = device_bytes(tmp / "k", "device");
  for (size_t i = 1; i < kdev.size(); ++i) EXPECT_EQ(kdev[i], kdev[0]) << "step " << i + 1;
  const auto pinned = device_bytes(tmp / "k", "host_pinned");
  EXPECT_GT(pinned.back(), 0u) << "kept optimizer state is parked in host memory";
}

TEST(Trainer, BadRunsFailWithClearErrors) {
  test::TempDir tmp;
  EXPECT_NE(error_of([&] { train(config(tmp / "a", {"lisa.layers=5"}), quiet()); }).find("lisa.layers"),
            std::string::npos);
  EXPECT_NE(error_of([&] { train(config(tmp / "b", {"data.seq_len=1000"}), quiet()); }).find("data.seq_len"),
            std::string::npos);
  EXPECT_NE(error_of([&] { train(config(tmp / "c", {"data.train=" + tmp / "nope.txt"}), quiet()); }).find("data.train"),
            std::string::npos);
  std::ofstream(tmp / "tiny.txt") << "too short";
  EXPECT_NE(error_of([&] { train(config(tmp / "d", {"data.train=" + tmp / "tiny.txt"}), quiet()); })
                .find("fewer than one sequence"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(tmp / "a")) << "a run that fails validation must not create its folder";
  // A finished run's folder is not silently reused.
  train(config(tmp / "e", {"train.steps=1", "train.warmup_steps=0"}), quiet());
  EXPECT_NE(error_of([&] { train(config(tmp / "e", {"train.steps=1", "train.warmup_steps=0"}), quiet()); }).find("--resume"),
            std::string::npos);
  // Diverging training stops after max_nonfinite_steps skipped steps.
  EXPECT_NE(error_of([&] {
              train(config(tmp / "f", {"train.lr=1e30", "train.grad_clip=0", "train.max_nonfinite_steps=2",
                                       "train.warmup_steps=0"}),
                    quiet());
            }).find("non-finite"),
            std::string::npos);
  // Resume refuses a different configuration.
  TrainOptions r = quiet();
  r.resume_dir = tmp / "e";
  EXPECT_NE(error_of([&] { train(config(tmp / "e", {"train.steps=2", "train.warmup_steps=0", "train.lr=1e-2"}), r); })
                .find("different configuration"),
            std::string::npos);
}

TEST(Trainer, CheckpointCorruptionIsDetected) {
  test::TempDir tmp;
  TrainOptions o = quiet();
  o.stop_at_step = 2;
  const TrainResult r = train(config(tmp / "c"), o);
  const std::string weights = r.last_checkpoint + "/weights.safetensors";
  {
    std::fstream f(weights, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-5, std::ios::end);
    f.put('\x42');
  }
  TrainOptions resume = quiet();
  resume.resume_dir = tmp / "c";
  EXPECT_NE(error_of([&] { train(config(tmp / "c"), resume); }).find("checksum mismatch"), std::string::npos);
}

// state.json carries its own checksum: a hand edit or a flipped byte is refused, naming the file. Fields that a
// consistent edit (checksum recomputed) makes absurd are range-checked, each error naming the field.
TEST(Trainer, StateJsonIsChecksummedAndRangeChecked) {
  test::TempDir tmp;
  TrainOptions o = quiet();
  o.stop_at_step = 2;
  const TrainResult r = train(config(tmp / "s"), o);
  const std::string state = r.last_checkpoint + "/state.json";
  std::string original;
  {
    std::ifstream in(state);
    std::stringstream ss;
    ss << in.rdbuf();
    original = ss.str();
  }
  TrainOptions resume = quiet();
  resume.resume_dir = tmp / "s";
  const auto resume_error = [&] { return error_of([&] { train(config(tmp / "s"), resume); }); };
  // An edit without a new checksum.
  auto j = nlohmann::json::parse(original);
  j["step"] = -5;
  std::ofstream(state) << j.dump(2);
  std::string e = resume_error();
  EXPECT_NE(e.find("state.json: checksum mismatch"), std::string::npos) << e;
  // Consistent edits (checksum recomputed): each absurd field is named.
  const auto edited = [&](const std::function<void(nlohmann::json&)>& edit) {
    auto k = nlohmann::json::parse(original);
    edit(k);
    k.erase("state_xxh3");
    k["state_xxh3"] = [&] {
      char b[17];
      std::snprintf(b, sizeof b, "%016llx", (unsigned long long)xxh3_of_text(k.dump()));
      return std::string(b);
    }();
    std::ofstream(state) << k.dump(2);
    return resume_error();
  };
  e = edited([](nlohmann::json& k) { k["dirty_blobs"] = {-1}; });
  EXPECT_NE(e.find("dirty_blobs holds blob id -1"), std::string::npos) << e;
  e = edited([](nlohmann::json& k) { k["active_blobs"] = {0, 0}; });
  EXPECT_NE(e.find("active_blobs holds blob id 0 twice"), std::string::npos) << e;
  e = edited([](nlohmann::json& k) { k["step"] = -5; });
  EXPECT_NE(e.find("step = -5 is negative"), std::string::npos) << e;
  e = edited([](nlohmann::json& k) { k["adam_steps"][0] = -3; });
  EXPECT_NE(e.find("adam_steps[0] = -3"), std::string::npos) << e;
  e = edited([](nlohmann::json& k) { k["config_xxh3"] = "zz"; });
  EXPECT_NE(e.find("config_xxh3 = \"zz\" is not a 16-digit hex checksum"), std::string::npos) << e;
  // The untouched file resumes.
  std::ofstream(state) << original;
  EXPECT_NO_THROW(train(config(tmp / "s"), resume));
}

// ---- the same invariants through the CUDA backend -----------------------------------------------------------------

class TrainerOnDevice : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string why;
    if (!test::backend_available(GetParam(), &why)) GTEST_SKIP() << GetParam() << ": " << why;
  }
  bool emulated() const { return GetParam().rfind("cuda-emu", 0) == 0; }
  // Run length. The emulated device runs kernels thread by thread, so its runs are shorter: one sequence a micro
  // batch, 6 steps of 2 micro batches in fp32, 4 steps of 1 in bf16 (its tensor-core attention is the slowest to
  // emulate); still two LISA periods (interval 3), so a resume can stop in one and continue into the next.
  int steps(const std::string& precision = "fp32") const {
    if (!emulated()) return 16;
    return precision == "bf16" ? 4 : 6;
  }
  // `sets` plus the backend, the precision and the run length.
  std::vector<std::string> with(std::vector<std::string> sets, const std::string& precision = "fp32") const {
    sets.push_back("memory.backend=" + GetParam());
    sets.push_back("train.precision=" + precision);
    sets.push_back("train.steps=" + std::to_string(steps(precision)));
    if (emulated()) {
      sets.push_back("train.micro_batch=1");
      if (precision == "bf16") sets.push_back("train.grad_accum=1");
    }
    return sets;
  }
};

TEST_P(TrainerOnDevice, ResumeIsBitwiseExact) {
  for (const std::string precision : {"fp32", "bf16"})
    for (const std::string policy : {"reset", "keep"}) {
      // bf16 on the emulated device: "keep" only (parked fp32 masters and moments come back too), for time.
      if (emulated() && precision == "bf16" && policy == "reset") continue;
      SCOPED_TRACE(GetParam() + ", " + precision + ", " + policy);
      test::TempDir tmp;
      const int n = steps(precision), stop = n / 2;  // stops in the first LISA period, resumes into the next
      const std::vector<std::string> sets = with({"lisa.optimizer_state=" + policy}, precision);
      const TrainResult straight = train(config(tmp / "a", sets), quiet());
      ASSERT_EQ(straight.losses.size(), (size_t)n);

      TrainOptions first = quiet();
      first.stop_at_step = stop;
      const TrainResult half = train(config(tmp / "b", sets), first);
      EXPECT_TRUE(half.interrupted);
      EXPECT_EQ(half.steps_done, stop);
      TrainOptions resume = quiet();
      resume.resume_dir = tmp / "b";
      const TrainResult rest = train(config(tmp / "b", sets), resume);
      EXPECT_EQ(rest.first_step, stop);
      EXPECT_EQ(rest.steps_done, n);

      std::vector<double> joined = half.losses;
      joined.insert(joined.end(), rest.losses.begin(), rest.losses.end());
      expect_bitwise_equal(joined, straight.losses);
      EXPECT_EQ(final_weights(tmp / "a"), final_weights(tmp / "b")) << policy;
      EXPECT_LT(straight.losses.back(), straight.losses.front()) << "the loss should fall";
    }
}

TEST_P(TrainerOnDevice, LisaWithAllLayersEqualsFullFineTuning) {
  for (const std::string precision : {"fp32", "bf16"}) {
    SCOPED_TRACE(GetParam() + ", " + precision);
    test::TempDir tmp;
    const TrainResult lisa = train(config(tmp / "lisa", with({"lisa.layers=4"}, precision)), quiet());
    const TrainResult full = train(config(tmp / "full", with({"train.mode=full"}, precision)), quiet());
    expect_bitwise_equal(lisa.losses, full.losses);
    EXPECT_EQ(final_weights(tmp / "lisa"), final_weights(tmp / "full"));
    if (emulated() && precision == "bf16") continue;  // the control below does not depend on the backend: time
    const TrainResult partial = train(config(tmp / "partial", with({}, precision)), quiet());
    EXPECT_NE(partial.losses.back(), full.losses.back()) << "gamma < n_layers must differ from full fine-tuning";
  }
}

// The device backend trains like the cpu backend: same batches, same LISA schedule, losses equal up to fp32
// summation order.
TEST_P(TrainerOnDevice, TracksTheCpuBackend) {
  test::TempDir tmp;
  std::vector<std::string> sets = with({});
  const TrainResult dev = train(config(tmp / "dev", sets), quiet());
  sets.push_back("memory.backend=cpu");
  const TrainResult cpu = train(config(tmp / "cpu", sets), quiet());
  ASSERT_EQ(cpu.losses.size(), dev.losses.size());
  for (size_t i = 0; i < cpu.losses.size(); ++i)
    EXPECT_NEAR(dev.losses[i], cpu.losses[i], 1e-4 * cpu.losses[i]) << "step " << i + 1;
  EXPECT_EQ(dev.active_blocks, cpu.active_blocks) << "the LISA schedule does not depend on the backend";
}

TEST_P(TrainerOnDevice, ResamplingDoesNotGrowDeviceMemory) {
  test::TempDir tmp;
  const TrainResult r =
      train(config(tmp / "r", with({"lisa.interval=1", "lisa.layers=1", "train.grad_accum=1"})), quiet());
  std::set<std::vector<int>> distinct(r.active_blocks.begin(), r.active_blocks.end());
  EXPECT_GE(distinct.size(), 3u) << "the sampler should visit several blocks";
  const auto dev = device_bytes(tmp / "r", "device");
  ASSERT_EQ(dev.size(), (size_t)steps());
  for (size_t i = 1; i < dev.size(); ++i) EXPECT_EQ(dev[i], dev[0]) << "device bytes changed at step " << i + 1;
  const auto peak = device_bytes(tmp / "r", "device_peak");
  EXPECT_EQ(peak.back(), peak.front()) << "re-sampling must not raise the device peak";
}

INSTANTIATE_TEST_SUITE_P(Backends, TrainerOnDevice, ::testing::ValuesIn(test::cuda_backends()),
                         [](const ::testing::TestParamInfo<std::string>& i) { return test::backend_id(i.param); });

}  // namespace
}  // namespace strata
