// Training runs against a PyTorch replay: strata::train() on each committed config in tests/configs/ must give, step
// by step, the loss that transformers' LlamaForCausalLM + torch.optim.AdamW gave when tools/replay_lisa_pytorch.py
// replayed the same run (same initial weights, batches and active-block schedule), within 1e-4 relative, and the
// same LISA schedule. The goldens (tests/golden/replay_*.bin) hold the replay's per-step losses; regenerate with
//   python tools/replay_lisa_pytorch.py tests/configs/<name>.toml --out tests/golden/<name>.bin
// Negative tests show the comparison fails when the run is not the one replayed (other optimizer-state policy, no
// clipping, no weight decay).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <unistd.h>
#include <vector>

#include "config/run_config.h"
#include "engine/trainer.h"
#include "tests/support/golden_file.h"

namespace strata {
namespace {

namespace fs = std::filesystem;
using test::GoldenFile;

constexpr double kTol = 1e-4;  // relative, per step (the fp32 floor measured when the goldens were made: ~1e-7)

const char* const kCases[] = {"replay_lisa", "replay_lisa_keep", "replay_full"};

std::string config_path(const std::string& name) { return std::string(STRATA_TEST_CONFIG_DIR) + "/" + name + ".toml"; }

// The config with [output] (run folder, logging, checkpoints, batch log) set to defaults: what a replay depends on.
std::string replayed_part(RunConfig c) {
  c.output = OutputSection{};
  return c.to_toml();
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "strata-replay-XXXXXX").string();
    const char* p = ::mkdtemp(tmpl.data());
    if (p) path_ = p;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct Replay {
  std::vector<double> strata, torch;
  std::vector<std::vector<int>> strata_active, golden_active;
  double max_rel = 0;
  int worst_step = 0;
};

// Trains `cfg` into a fresh temporary folder and lines its per-step losses up with the golden's.
Replay run_against(RunConfig cfg, const GoldenFile& g) {
  TempDir tmp;
  EXPECT_FALSE(tmp.path().empty()) << "mkdtemp failed";
  cfg.output.dir = tmp.path() + "/run";
  cfg.output.save_batches = false;
  cfg.output.checkpoint_every = 0;
  TrainOptions opts;
  opts.log = nullptr;
  const TrainResult r = train(cfg, opts);

  Replay out;
  out.strata = r.losses;
  out.strata_active = r.active_blocks;
  const std::vector<float>& loss = g.f32("loss");
  out.torch.assign(loss.begin(), loss.end());
  const test::GoldenTensor& act = g.tensor("active_layers");
  EXPECT_EQ(act.shape.size(), 2u) << g.path() << ": active_layers is not [steps, gamma]";
  if (act.shape.size() == 2) {
    const int64_t steps = act.shape[0], gamma = act.shape[1];
    for (int64_t s = 0; s < steps; ++s)
      out.golden_active.emplace_back(act.i32.begin() + s * gamma, act.i32.begin() + (s + 1) * gamma);
  }
  for (size_t s = 0; s < std::min(out.strata.size(), out.torch.size()); ++s) {
    const double rel = std::fabs(out.strata[s] - out.torch[s]) / std::max(std::fabs(out.torch[s]), 1e-30);
    if (!(rel <= out.max_rel)) {  // NaN counts as the worst
      out.max_rel = std::isnan(rel) ? INFINITY : rel;
      out.worst_step = (int)s + 1;
    }
  }
  return out;
}

class TrainReplay : public ::testing::TestWithParam<const char*> {};

// The committed config is the one the golden replayed (up to [output]).
TEST_P(TrainReplay, GoldenWasMadeFromTheCommittedConfig) {
  const std::string name = GetParam();
  const GoldenFile g = GoldenFile::load(test::golden_path(name + ".bin"));
  const RunConfig committed = RunConfig::load(config_path(name));
  const RunConfig golden = RunConfig::parse(g.meta("config"), g.path() + " (metadata 'config')");
  EXPECT_EQ(replayed_part(golden), replayed_part(committed))
      << config_path(name) << " changed since " << g.path() << " was made; regenerate it with "
      << "python tools/replay_lisa_pytorch.py tests/configs/" << name << ".toml --out tests/golden/" << name << ".bin";
  EXPECT_EQ(g.meta_int("steps"), committed.train.steps);
}

TEST_P(TrainReplay, LossesMatchThePyTorchReplay) {
  const std::string name = GetParam();
  const GoldenFile g = GoldenFile::load(test::golden_path(name + ".bin"));
  const RunConfig cfg = RunConfig::load(config_path(name));
  const Replay r = run_against(cfg, g);

  ASSERT_EQ(r.strata.size(), (size_t)cfg.train.steps);
  ASSERT_EQ(r.torch.size(), r.strata.size()) << g.path() << " has another number of steps";
  EXPECT_EQ(r.strata_active, r.golden_active) << "the active-block schedule differs from the replayed run's";
  for (size_t s = 0; s < r.strata.size(); ++s) {
    const double rel = std::fabs(r.strata[s] - r.torch[s]) / std::fabs(r.torch[s]);
    EXPECT_LE(rel, kTol) << name << " step " << s + 1 << ": strata loss " << r.strata[s] << ", PyTorch "
                         << r.torch[s];
  }
  std::printf("[ replay   ] %s: %zu steps, max rel loss diff %.3e (step %d), tolerance %.0e\n", name.c_str(),
              r.strata.size(), r.max_rel, r.worst_step, kTol);
}

INSTANTIATE_TEST_SUITE_P(Goldens, TrainReplay, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<const char*>& i) { return std::string(i.param); });

// ---- the comparison can fail ------------------------------------------------------------------------------------

// A run whose deactivated blocks keep their AdamW state (instead of dropping it) is not the replayed run.
TEST(TrainReplayNegative, OtherOptimizerStatePolicyIsDetected) {
  const GoldenFile g = GoldenFile::load(test::golden_path("replay_lisa.bin"));
  RunConfig cfg = RunConfig::load(config_path("replay_lisa"));
  ASSERT_EQ(cfg.lisa.optimizer_state, InactiveStatePolicy::Reset);
  cfg.lisa.optimizer_state = InactiveStatePolicy::Keep;
  const Replay r = run_against(cfg, g);
  EXPECT_EQ(r.strata_active, r.golden_active);  // same schedule, different optimizer state
  EXPECT_GT(r.max_rel, kTol) << "keeping the state of re-activated blocks went unnoticed";
}

// Without gradient clipping (the golden's run clips on about half of its steps) the losses drift apart.
TEST(TrainReplayNegative, MissingClippingIsDetected) {
  const GoldenFile g = GoldenFile::load(test::golden_path("replay_lisa.bin"));
  RunConfig cfg = RunConfig::load(config_path("replay_lisa"));
  ASSERT_GT(cfg.train.grad_clip, 0.0);
  cfg.train.grad_clip = 0.0;
  EXPECT_GT(run_against(cfg, g).max_rel, kTol) << "a run without clipping went unnoticed";
}

// Weight decay (0.1 here) moves the losses by a few 1e-4 over 20 steps: enough to be seen.
TEST(TrainReplayNegative, MissingWeightDecayIsDetected) {
  const GoldenFile g = GoldenFile::load(test::golden_path("replay_lisa.bin"));
  RunConfig cfg = RunConfig::load(config_path("replay_lisa"));
  ASSERT_GT(cfg.train.weight_decay, 0.0);
  cfg.train.weight_decay = 0.0;
  EXPECT_GT(run_against(cfg, g).max_rel, kTol) << "a run without weight decay went unnoticed";
}

}  // namespace
}  // namespace strata
