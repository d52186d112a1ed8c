// The run folder is the user's: one process at a time (a lock naming the holder), a run stopped before its first
// checkpoint can be continued, metrics.jsonl write errors stop the run loudly, and a stop request between
// micro-batches drops the unfinished step and resumes bit-exactly, and a non-finite stop names an unchecked tier
// (issue 14, items 3, 5, 6, 8 and 9); checkpoint checksums are streamed (issue 15).
#include <gtest/gtest.h>
#include <omp.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "core/folder_lock.h"
#include "engine/checkpoint.h"
#include "engine/metrics_log.h"
#include "engine/trainer.h"
#include "tests/support/run_weights.h"
#include "tests/support/temp_dir.h"
#include "tests/support/training_run.h"

namespace strata {
namespace {

namespace fs = std::filesystem;
using test::error_of;

const char* kBase = R"(
[model]
preset = "tiny"
init_seed = 7
[data]
train = "synthetic"
synthetic_documents = 120
seq_len = 32
[train]
steps = 8
micro_batch = 2
grad_accum = 3
lr = 2e-3
warmup_steps = 1
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
using test::resuming;

std::vector<int> metric_steps(const std::string& dir) {
  std::ifstream in(fs::path(dir) / "metrics.jsonl");
  std::vector<int> steps;
  std::string line;
  while (std::getline(in, line)) steps.push_back(nlohmann::json::parse(line).at("step").get<int>());
  return steps;
}

std::vector<int> one_to(int n) {
  std::vector<int> v(n);
  for (int i = 0; i < n; ++i) v[i] = i + 1;
  return v;
}

void expect_same_losses(const std::vector<double>& a, const std::vector<double>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(std::memcmp(&a[i], &b[i], sizeof(double)), 0) << "step " << i + 1;
}

// Checkpoint checksums are hashed in bounded pieces (issue 15): the same value as hashing the whole contents at once,
// across the 8 MiB piece boundaries and for an empty file; a missing file is named.
TEST(RunFolder, FileChecksumIsStreamedWithTheOneShotValue) {
  test::TempDir tmp;
  const size_t piece = size_t{8} << 20;
  for (const size_t n : {size_t{0}, size_t{1}, piece - 1, piece, piece + 1, 3 * piece + 12345}) {
    std::string bytes(n, '\0');
    for (size_t i = 0; i < n; ++i) bytes[i] = static_cast<char>((i * 2654435761u) >> 13);
    const std::string p = tmp / ("f" + std::to_string(n));
    std::ofstream(p, std::ios::binary) << bytes;
    EXPECT_EQ(xxh3_of_file(p), xxh3_of_text(bytes)) << n << " bytes";
  }
  const std::string missing = tmp / "missing";
  const std::string err = error_of([&] { xxh3_of_file(missing); });
  EXPECT_NE(err.find("cannot open " + missing), std::string::npos) << err;
}

// Another process holding the folder (a FolderLock on a second open file description conflicts exactly as one in
// another process does): a resume and a fresh start are both refused with the holder's PID, and nothing is written.
TEST(RunFolder, SecondTrainerOnAFolderIsRefusedNamingTheHolder) {
  test::TempDir tmp;
  TrainOptions first = quiet();
  first.stop_at_step = 2;
  train(config(tmp / "run"), first);
  const auto before = fs::last_write_time(fs::path(tmp / "run") / "metrics.jsonl");
  {
    FolderLock other(tmp / "run", "test");
    const std::string pid = "PID " + std::to_string(getpid());
    const std::string resumed = error_of([&] { train(config(tmp / "run"), resuming(tmp / "run")); });
    EXPECT_NE(resumed.find("is in use by another strata process (" + pid + ")"), std::string::npos) << resumed;
    EXPECT_EQ(fs::last_write_time(fs::path(tmp / "run") / "metrics.jsonl"), before);

    fs::create_directories(tmp / "fresh");
    FolderLock racer(tmp / "fresh", "test");  // a fresh start that got there first
    const std::string fresh = error_of([&] { train(config(tmp / "fresh"), quiet()); });
    EXPECT_NE(fresh.find("is in use by another strata process (" + pid + ")"), std::string::npos) << fresh;
    EXPECT_FALSE(fs::exists(fs::path(tmp / "fresh") / "config.toml"));
  }
  // Released with the holder: the run continues.
  EXPECT_EQ(train(config(tmp / "run"), resuming(tmp / "run")).steps_done, 8);
}

// A run killed before its first checkpoint: a fresh start says how to continue it, and --resume starts it again at
// step 0, ending bitwise where an uninterrupted run ends, with each step once in metrics.jsonl.
TEST(RunFolder, RunKilledBeforeItsFirstCheckpointCanBeContinued) {
  test::TempDir tmp;
  const TrainResult straight = train(config(tmp / "straight"), quiet());
  TrainOptions first = quiet();
  first.stop_at_step = 3;
  train(config(tmp / "killed"), first);
  fs::remove_all(fs::path(tmp / "killed") / "checkpoints");  // as if killed before its first checkpoint
  ASSERT_FALSE(CheckpointStore::latest(tmp / "killed"));

  const std::string fresh = error_of([&] { train(config(tmp / "killed"), quiet()); });
  EXPECT_NE(fresh.find("stopped before its first checkpoint"), std::string::npos) << fresh;
  EXPECT_NE(fresh.find("strata train --resume " + (tmp / "killed")), std::string::npos) << fresh;

  const TrainResult again = train(config(tmp / "killed"), resuming(tmp / "killed"));
  EXPECT_EQ(again.first_step, 0);
  expect_same_losses(again.losses, straight.losses);
  EXPECT_EQ(test::final_weights(tmp / "killed"), test::final_weights(tmp / "straight"));
  EXPECT_EQ(metric_steps(tmp / "killed"), one_to(8));
}

// A metrics line that cannot be written (here: the file is /dev/full) is an error naming the file, not a silent gap.
TEST(RunFolder, MetricsWriteErrorsAreReported) {
  test::TempDir tmp;
  fs::create_symlink("/dev/full", tmp / "metrics.jsonl");
  MetricsLog log(tmp.path());
  const std::string err = error_of([&] { log.write(R"({"step":1})"); });
  EXPECT_NE(err.find("cannot write " + (tmp / "metrics.jsonl")), std::string::npos) << err;
  EXPECT_NE(err.find("No space left on device"), std::string::npos) << err;
}

// A stop request is seen between micro-batches: the unfinished step is dropped, the checkpoint is at the last whole
// step, and the resumed run is bitwise the uninterrupted one.
TEST(RunFolder, StopBetweenMicroBatchesResumesBitExactly) {
  test::TempDir tmp;
  const TrainResult straight = train(config(tmp / "straight"), quiet());
  TrainOptions stop = quiet();
  stop.stop_at_micro_batch = 3 * 4 + 2;  // inside step 5 (3 micro-batches per step)
  const TrainResult part = train(config(tmp / "stopped"), stop);
  EXPECT_TRUE(part.interrupted);
  EXPECT_EQ(part.steps_done, 4);
  EXPECT_EQ(metric_steps(tmp / "stopped"), one_to(4));
  const TrainResult rest = train(config(tmp / "stopped"), resuming(tmp / "stopped"));
  EXPECT_EQ(rest.first_step, 4);
  std::vector<double> joined = part.losses;
  joined.insert(joined.end(), rest.losses.begin(), rest.losses.end());
  expect_same_losses(joined, straight.losses);
  EXPECT_EQ(test::final_weights(tmp / "stopped"), test::final_weights(tmp / "straight"));
}

// With an absurd grad_accum one step takes hours; a stop request still ends the run within a micro-batch.
TEST(RunFolder, StopRequestEndsAHugeStepPromptly) {
  test::TempDir tmp;
  std::atomic<bool> flag{false};
  TrainOptions o = quiet();
  o.stop = &flag;
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    flag.store(true);
  });
  const auto t0 = std::chrono::steady_clock::now();
  const TrainResult r = train(config(tmp / "run", {"train.grad_accum=65536"}), o);
  stopper.join();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_TRUE(r.interrupted);
  EXPECT_EQ(r.steps_done, 0);
  EXPECT_LT(secs, 60.0) << "the stop request must not wait for the step";
  EXPECT_TRUE(CheckpointStore::latest(tmp / "run"));
}

// Non-finite losses with frozen blocks read back from a tier unchecked: the message names the tier as a suspect and
// the setting that rules it out; with every read checked (or no tier) it does not.
TEST(RunFolder, NonFiniteStopNamesAnUncheckedTierAsASuspect) {
  test::TempDir tmp;
  const std::vector<std::string> diverge = {"train.lr=1e30", "train.grad_clip=0", "train.max_nonfinite_steps=2",
                                            "train.warmup_steps=0"};
  auto with = [&](std::vector<std::string> more) {
    more.insert(more.end(), diverge.begin(), diverge.end());
    return more;
  };
  const std::string host = error_of([&] { train(config(tmp / "h", with({"memory.frozen_tier=host"})), quiet()); });
  EXPECT_NE(host.find("non-finite"), std::string::npos) << host;
  EXPECT_NE(host.find("rerun with memory.verify = \"always\""), std::string::npos) << host;
  EXPECT_NE(host.find("host"), std::string::npos) << host;
  const std::string checked = error_of(
      [&] { train(config(tmp / "c", with({"memory.frozen_tier=host", "memory.verify=always"})), quiet()); });
  EXPECT_NE(checked.find("non-finite"), std::string::npos) << checked;
  EXPECT_EQ(checked.find("memory.verify"), std::string::npos) << checked;
  const std::string resident = error_of([&] { train(config(tmp / "r", with({"memory.frozen_tier=device"})), quiet()); });
  EXPECT_EQ(resident.find("memory.verify"), std::string::npos) << resident;
}

// CPU results are bitwise reproducible at one OpenMP thread count only: the checkpoint records it, and a resume with
// another count says so (naming the setting that keeps the run exact).
TEST(RunFolder, ResumeWithAnotherThreadCountIsNamed) {
  test::TempDir tmp;
  TrainOptions first = quiet();
  first.stop_at_step = 2;
  train(config(tmp / "run"), first);
  const int threads = omp_get_max_threads();
  std::ifstream state(fs::path(*CheckpointStore::latest(tmp / "run")) / "state.json");
  EXPECT_EQ(nlohmann::json::parse(state).at("cpu_threads").get<int>(), threads);
  const int other = threads == 1 ? 2 : 1;
  omp_set_num_threads(other);
  FILE* log = std::tmpfile();
  ASSERT_NE(log, nullptr);
  TrainOptions again = resuming(tmp / "run");
  again.log = log;
  train(config(tmp / "run"), again);
  omp_set_num_threads(threads);
  std::rewind(log);
  std::string text;
  for (int c; (c = std::fgetc(log)) != EOF;) text += (char)c;
  std::fclose(log);
  EXPECT_NE(text.find("with " + std::to_string(threads) + " OpenMP threads, this one has " + std::to_string(other)),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("OMP_NUM_THREADS=" + std::to_string(threads)), std::string::npos) << text;
}

TEST(RunFolder, AbsurdConfigValuesAreRefused) {
  for (const char* set : {"train.grad_accum=65537", "train.micro_batch=100000", "memory.prefetch=1000",
                          "train.eval_batches=2000000"}) {
    const std::string err = error_of([&] { config("/tmp/unused", {set}); });
    const std::string key = std::string(set).substr(0, std::string(set).find('='));
    EXPECT_NE(err.find(key + " must be at most "), std::string::npos) << set << ": " << err;
  }
  const std::string tokens = error_of([&] { config("/tmp/unused", {"train.grad_accum=65536", "train.micro_batch=64", "data.seq_len=1024"}); });
  EXPECT_NE(tokens.find("beyond 2^31"), std::string::npos) << tokens;
}

}  // namespace
}  // namespace strata
