// Errors about the user's input or environment, one or more from each layer: each is a UserError (not an internal
// StrataError), carries no "file.cpp:NNN:" source location, and names the thing to fix (the key, the file, the flag).
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/backend_registry.h"
#include "config/run_config.h"
#include "core/byte_size.h"
#include "core/check.h"
#include "core/enum_names.h"
#include "core/folder_lock.h"
#include "data/dataset_readers.h"
#include "data/training_data.h"
#include "engine/trainer.h"
#include "formats/hf_config.h"
#include "formats/hf_model_folder.h"
#include "formats/safetensors.h"
#include "model/precision.h"
#include "model/presets.h"
#include "offload/disk_tiers.h"
#include "offload/scratch_file.h"
#include "offload/tier_store.h"
#include "optim/lisa_sampler.h"
#include "plan/planner.h"
#include "report/html_report.h"
#include "tests/support/temp_dir.h"
#include "tests/support/training_run.h"
#include "tokenizer/tokenizer.h"

namespace strata {
namespace {

namespace fs = std::filesystem;

// The message of the UserError `f` throws; a test failure when it throws nothing or anything else.
std::string user_error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const UserError& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected a UserError, got another exception: " << e.what();
    return e.what();
  }
  ADD_FAILURE() << "expected a UserError, nothing was thrown";
  return "";
}

// `f` throws a UserError whose message has no source location and contains each of `names`.
void expect_user_error(const std::function<void()>& f, std::initializer_list<std::string> names) {
  static const std::regex kLocation(R"([a-z_]+\.(cpp|h):[0-9]+:)");
  const std::string msg = user_error_of(f);
  EXPECT_FALSE(std::regex_search(msg, kLocation)) << "a source location in a user error: " << msg;
  for (const std::string& n : names) EXPECT_NE(msg.find(n), std::string::npos) << "'" << n << "' not in: " << msg;
}

const char* kRun = R"(
[model]
preset = "tiny"
init_seed = 5
[data]
train = "synthetic"
synthetic_documents = 150
seq_len = 32
[train]
steps = 4
micro_batch = 2
lr = 2e-3
warmup_steps = 0
eval_every = 0
[lisa]
layers = 2
interval = 3
[output]
checkpoint_every = 0
)";

RunConfig run_config(const std::string& dir, std::vector<std::string> sets = {}) {
  return test::run_config_in(kRun, dir, std::move(sets));
}
using test::quiet;

void write_text(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

// ---- config, core -----------------------------------------------------------------------------------------------

TEST(UserErrors, BadConfigValue) {
  expect_user_error([] { RunConfig::parse(kRun, "run.toml", {"train.lr=-1"}); }, {"train.lr", "--set"});
  expect_user_error([] { RunConfig::parse(kRun, "run.toml", {"train.lrr=1"}); }, {"lrr", "did you mean"});
  expect_user_error([] { RunConfig::parse("[train]\nsteps = \"many\"\n", "run.toml", {}); }, {"steps", "run.toml"});
  expect_user_error([] { RunConfig::parse(kRun, "run.toml", {"memory.device_budget=1e19"}); },
                    {"memory.device_budget", "1e19", "too large"});
}

TEST(UserErrors, MissingConfigFile) {
  test::TempDir tmp;
  const std::string path = tmp / "absent.toml";
  expect_user_error([&] { RunConfig::load(path, {}); }, {path});
}

TEST(UserErrors, ByteSizeTooLargeOrMalformed) {
  for (const char* text : {"1e19", "99999999999TiB", "18446744073709551616", "1e400", "9.3e18"}) {
    SCOPED_TRACE(text);
    expect_user_error([&] { parse_byte_size(text, "memory.device_budget"); },
                      {"memory.device_budget", text, "too large"});
  }
  expect_user_error([] { parse_byte_size("99999999999EiB", "memory.device_budget"); },
                    {"memory.device_budget", "unknown unit 'eib'"});
  expect_user_error([] { parse_byte_size("lots", "--host-budget"); }, {"--host-budget", "'lots' is not a size"});
  // The largest sizes below the limit still parse, exactly.
  EXPECT_EQ(parse_byte_size("8e18", "x"), 8000000000000000000ull);
  EXPECT_EQ(parse_byte_size("8388607TiB", "x"), 8388607ull << 40);
}

TEST(UserErrors, UnknownEnumNameAndLockedFolder) {
  expect_user_error([] { parse_enum<Precision>("fp64", "--precision"); }, {"--precision", "'fp64'"});
  test::TempDir tmp;
  FolderLock first(tmp.path(), "output.dir");
  expect_user_error([&] { FolderLock second(tmp.path(), "output.dir"); }, {"output.dir", tmp.path(), "in use"});
}

// ---- data, tokenizer --------------------------------------------------------------------------------------------

TEST(UserErrors, MissingDataFile) {
  test::TempDir tmp;
  DataSection d;
  d.train = tmp / "absent.jsonl";
  expect_user_error([&] { load_training_data(d, 2, 512, ""); }, {"data.train", d.train, "does not exist"});
  d.train = "synthetic";
  d.seq_len = 0;
  expect_user_error([&] { load_training_data(d, 2, 512, ""); }, {"data.seq_len"});
}

TEST(UserErrors, BadDatasetRecord) {
  test::TempDir tmp;
  const std::string path = tmp / "data.jsonl";
  write_text(path, "{\"text\": \"fine\"}\n{\"txt\": \"typo\"}\n");
  const auto tok = make_tokenizer("byte");
  expect_user_error([&] { read_documents(path, DataFormat::Auto, *tok, "text"); }, {path, "\"text\""});
  const std::string alpaca = tmp / "data.json";
  write_text(alpaca, "[{\"instruction\": 5, \"output\": \"x\"}]");
  expect_user_error([&] { read_documents(alpaca, DataFormat::Alpaca, *tok, "text"); }, {alpaca, "\"instruction\""});
}

TEST(UserErrors, MissingTokenizer) {
  test::TempDir tmp;
  const std::string path = tmp / "tokenizer.json";
  expect_user_error([&] { make_tokenizer(path); }, {"data.tokenizer", path});
  write_text(path, "{\"model\": {\"type\": \"Unigram\"}}");
  expect_user_error([&] { make_tokenizer(path); }, {path});
}

// ---- formats, model ---------------------------------------------------------------------------------------------

TEST(UserErrors, TruncatedSafetensorsFile) {
  test::TempDir tmp;
  const std::string path = tmp / "model.safetensors";
  TensorSource t;
  t.name = "w";
  t.shape = {64, 64};
  t.fill = [](void* dst) { std::memset(dst, 0, 64 * 64 * sizeof(float)); };
  write_safetensors(path, {t});
  ASSERT_NO_THROW(SafetensorsFile::open(path));
  fs::resize_file(path, fs::file_size(path) - 100);
  expect_user_error([&] { SafetensorsFile::open(path); }, {path});
  fs::resize_file(path, 5);
  expect_user_error([&] { SafetensorsFile::open(path); }, {path});
  expect_user_error([&] { SafetensorsFile::open(tmp / "absent.safetensors"); }, {tmp / "absent.safetensors"});
}

TEST(UserErrors, BadModelFolderAndConfigJson) {
  test::TempDir tmp;
  expect_user_error([&] { HfModelFolder::open(tmp / "absent"); }, {tmp / "absent"});
  // A folder with a config.json but no weights.
  const std::string folder = tmp / "model";
  fs::create_directories(folder);
  const ModelInfo& tiny = find_preset("tiny")->info;
  write_text(folder + "/config.json", hf_config_json(tiny, DType::F32));
  expect_user_error([&] { HfModelFolder::open(folder); }, {folder, "model.safetensors"});
  // A config.json whose shape the model config refuses (model_config.cpp), named by the file.
  auto j = nlohmann::json::parse(hf_config_json(tiny, DType::F32));
  j["num_key_value_heads"] = 3;
  const std::string bad = tmp / "bad_config.json";
  write_text(bad, j.dump());
  expect_user_error([&] { read_hf_config(bad); }, {bad, "n_kv_heads"});
  write_text(bad, "{not json");
  expect_user_error([&] { read_hf_config(bad); }, {bad, "not valid JSON"});
  expect_user_error([&] { resolve_model_config("no-such-preset"); }, {"'no-such-preset'", "presets"});
}

// ---- offload, memory, backend, optim, plan, report --------------------------------------------------------------

TEST(UserErrors, OffloadFileChecksumMismatchAndUnwritableFolder) {
  test::TempDir tmp;
  const std::string path = tmp / "offload.bin";
  constexpr size_t kBlob = 64 * 1024;
  auto tier = make_disk_tier(path, 2, kBlob, VerifyPolicy::Always, DiskIo::Pread, {},
                             [](int id) { return "block " + std::to_string(id); });
  void* buf = std::aligned_alloc(4096, kBlob);
  ASSERT_NE(buf, nullptr);
  std::memset(buf, 7, kBlob);
  tier->wait(tier->write(1, buf));
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(kBlob + 10);
    f.put('\x42');
  }
  expect_user_error([&] { tier->wait(tier->read(1, buf)); }, {"block 1", "checksum mismatch", path, "delete it"});
  tier.reset();
  std::free(buf);

  const std::string nowhere = tmp / "absent/offload.bin";
  expect_user_error([&] { ScratchFile f(nowhere, 4096, ScratchFile::Direct::IfSupported); }, {nowhere});
  DiskRefusals no_uring;
  no_uring.io_uring = ENOSYS;
  expect_user_error(
      [&] { make_disk_tier_with(no_uring, path, 1, 4096, VerifyPolicy::First, DiskIo::Uring, {}, {}); },
      {"io_uring unavailable", path, "pread"});
}

TEST(UserErrors, MemoryBudgetExceeded) {
  auto be = make_backend("cpu");
  be->memory().set_budget(MemoryKind::Device, 64 * 1024);
  expect_user_error([&] { be->alloc(MemoryKind::Device, 1 << 20, MemoryCategory::Weights); },
                    {"device budget exceeded", "memory.device_budget"});
  {
    const Buffer b = be->alloc(MemoryKind::Device, 32 * 1024, MemoryCategory::Weights);
    expect_user_error([&] { be->memory().set_budget(MemoryKind::Device, 4096); }, {"memory.device_budget"});
  }
}

TEST(UserErrors, UnknownOrUnavailableBackend) {
  expect_user_error([] { make_backend("tpu"); }, {"'tpu'", "cpu"});
  expect_user_error([] { make_backend("cuda:x"); }, {"'cuda:x'", "cuda:N"});
  expect_user_error([] { make_backend("cuda-emu:sideways"); }, {"cuda-emu:sideways", "'sideways'"});
}

TEST(UserErrors, LisaLayersOutOfRange) {
  expect_user_error([] { LisaSampler(4, 9, 1, 0); }, {"lisa.layers", "9"});
  expect_user_error([] { LisaSampler(4, 2, 0, 0); }, {"lisa.interval"});
}

TEST(UserErrors, ReportOfAMissingRunFolder) {
  test::TempDir tmp;
  expect_user_error([&] { write_html_report(tmp / "absent"); }, {tmp / "absent", "run folder"});
}

// ---- engine: through the trainer --------------------------------------------------------------------------------

TEST(UserErrors, TrainerRefusesBadInputs) {
  test::TempDir tmp;
  expect_user_error([&] { train(run_config(tmp / "a", {"data.train=" + (tmp / "absent.txt")}), quiet()); },
                    {"data.train", tmp / "absent.txt"});
  write_text(tmp / "file", "x");
  expect_user_error([&] { train(run_config(tmp / "file"), quiet()); }, {"output.dir", tmp / "file"});
  fs::create_directories(tmp / "busy");
  write_text(tmp / "busy/notes.txt", "x");
  expect_user_error([&] { train(run_config(tmp / "busy"), quiet()); }, {"output.dir", tmp / "busy"});
  expect_user_error([&] { train(run_config(tmp / "small", {"memory.device_budget=64KiB"}), quiet()); },
                    {"memory.device_budget"});
}

// A corrupted checkpoint is refused on resume, naming the file, and the message says exactly how to resume from the
// previous checkpoint: `--resume` takes the run folder and uses its newest complete checkpoint.
TEST(UserErrors, CorruptedCheckpointOnResume) {
  test::TempDir tmp;
  const std::string run = tmp / "run";
  TrainOptions first = quiet();
  first.stop_at_step = 2;
  const TrainResult r = train(run_config(run), first);
  ASSERT_EQ(fs::path(r.last_checkpoint).filename(), "step_00000002");
  const std::string weights = r.last_checkpoint + "/weights.safetensors";
  {
    std::fstream f(weights, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-5, std::ios::end);
    f.put('\x42');
  }
  TrainOptions resume = quiet();
  resume.resume_dir = run;
  const std::string advice = "move step_00000002 out of " + run + "/checkpoints/ so that `strata train --resume " +
                             run + "` uses the previous checkpoint";
  expect_user_error([&] { train(run_config(run), resume); }, {weights, "checksum mismatch", advice});

  // state.json edited by hand: the same advice.
  std::string text;
  {
    std::ifstream in(r.last_checkpoint + "/state.json");
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  auto j = nlohmann::json::parse(text);
  j["step"] = 1;
  write_text(r.last_checkpoint + "/state.json", j.dump(2));
  expect_user_error([&] { train(run_config(run), resume); }, {"state.json: checksum mismatch", advice});
}

}  // namespace
}  // namespace strata
