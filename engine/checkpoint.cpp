// CheckpointStore: atomic checkpoint folders with xxHash3-verified files; state.json is written last and the
// folder rename is the commit point, so a crash mid-save leaves the previous checkpoints intact.
#include "engine/checkpoint.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/atomic_file.h"
#include "core/check.h"

namespace strata {

namespace {

// A 16-digit lower-case hex XXH3, as hex64 writes it; throws naming `what` for anything else.
uint64_t parse_hex64(const std::string& text, const std::string& what) {
  STRATA_USER_CHECK(text.size() == 16 && text.find_first_not_of("0123456789abcdef") == std::string::npos,
                    what + " = \"" + text + "\" is not a 16-digit hex checksum");
  return std::stoull(text, nullptr, 16);
}

// state.json stores blob ids as plain integers.
std::vector<int> blob_values(const std::vector<BlobId>& ids) {
  std::vector<int> out;
  for (BlobId b : ids) out.push_back(b.value);
  return out;
}
std::vector<BlobId> blob_ids(const std::vector<int>& values) {
  std::vector<BlobId> out;
  for (int v : values) out.emplace_back(v);
  return out;
}

}  // namespace

namespace fs = std::filesystem;
using json = nlohmann::json;

// What to do about a checkpoint that cannot be used: `strata train --resume` takes the run folder and resumes from
// its newest complete checkpoint, so the bad one has to leave RUN/checkpoints/ for the previous one to be used.
static std::string unusable_checkpoint_advice(const std::string& dir) {
  fs::path d(dir);
  if (!d.has_filename()) d = d.parent_path();  // "RUN/checkpoints/step_00000002/"
  const fs::path root = d.parent_path();
  if (root.filename() != "checkpoints") return "use another checkpoint or start the run again";
  const std::string run = root.has_parent_path() ? root.parent_path().string() : ".";
  return "move " + d.filename().string() + " out of " + root.string() + "/ so that `strata train --resume " + run +
         "` uses the previous checkpoint (or starts again at step 0 when there is none)";
}

uint64_t xxh3_of_text(const std::string& text) { return XXH3_64bits(text.data(), text.size()); }

uint64_t xxh3_of_file(const std::string& path) {
  // Streamed through one bounded buffer with pread (XXH3's streaming state gives the same hash as one-shot hashing),
  // so verifying a checkpoint adds no file-sized resident memory.
  constexpr size_t kChunk = size_t{8} << 20;
  struct Fd {
    int fd;
    ~Fd() {
      if (fd >= 0) ::close(fd);
    }
  } fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (fd.fd < 0) {
    const int err = errno;
    STRATA_USER_FAIL("cannot open " + path + " to verify its checksum: " + std::strerror(err) +
                     ". Check that the checkpoint folder is complete and readable.");
  }
  struct State {
    XXH3_state_t* s = XXH3_createState();
    ~State() { XXH3_freeState(s); }
  } state;
  STRATA_CHECK(state.s && XXH3_64bits_reset(state.s) == XXH_OK, "cannot set up an XXH3 state to hash " + path);
  const auto buf = std::make_unique_for_overwrite<unsigned char[]>(kChunk);
  for (size_t offset = 0;;) {
    const ssize_t r = ::pread(fd.fd, buf.get(), kChunk, static_cast<off_t>(offset));
    if (r < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      STRATA_USER_FAIL("cannot read " + path + " to verify its checksum: reading at file offset " +
                       std::to_string(offset) + " failed: " + std::strerror(err) +
                       ". The file or its storage device may be damaged: check the device (dmesg), or use another "
                       "checkpoint.");
    }
    if (r == 0) break;
    STRATA_CHECK(XXH3_64bits_update(state.s, buf.get(), static_cast<size_t>(r)) == XXH_OK,
                 "XXH3 update failed while hashing " + path + " at file offset " + std::to_string(offset));
    offset += static_cast<size_t>(r);
  }
  return XXH3_64bits_digest(state.s);
}

static std::string hex64(uint64_t v) {
  char b[17];
  std::snprintf(b, sizeof b, "%016llx", (unsigned long long)v);
  return b;
}

CheckpointStore::CheckpointStore(std::string run_dir, int keep_last) : run_dir_(std::move(run_dir)), keep_last_(keep_last) {}

static std::string step_name(int step) {
  char b[32];
  std::snprintf(b, sizeof b, "step_%08d", step);
  return b;
}

std::string CheckpointStore::save(const TrainerState& s, const std::vector<TensorSource>& weights,
                                  const std::vector<TensorSource>& optimizer) const {
  const fs::path root = fs::path(run_dir_) / "checkpoints";
  std::error_code ec;
  fs::create_directories(root, ec);
  STRATA_USER_CHECK(!ec, "cannot create " + root.string() + ": " + ec.message());
  const fs::path final_dir = root / step_name(s.step);
  const fs::path tmp = root / (step_name(s.step) + ".tmp");
  fs::remove_all(tmp, ec);
  fs::create_directory(tmp, ec);
  STRATA_USER_CHECK(!ec, "cannot create " + tmp.string() + ": " + ec.message());
  try {
    write_safetensors((tmp / "weights.safetensors").string(), weights, {{"format", "pt"}});
    write_safetensors((tmp / "optimizer.safetensors").string(), optimizer);
    json j;
    j["format"] = "strata-checkpoint";
    j["version"] = 1;
    j["step"] = s.step;
    j["loader"] = {{"epoch", s.loader.epoch}, {"cursor", s.loader.cursor}};
    j["active_blobs"] = blob_values(s.active_blobs);
    j["dirty_blobs"] = blob_values(s.dirty_blobs);
    j["adam_steps"] = s.adam_steps;
    j["nonfinite_in_a_row"] = s.nonfinite_in_a_row;
    j["nonfinite_total"] = s.nonfinite_total;
    j["config_xxh3"] = hex64(s.config_hash);
    j["cpu_threads"] = s.cpu_threads;
    j["ranks"] = s.ranks;
    j["files"] = {{"weights.safetensors", hex64(xxh3_of_file((tmp / "weights.safetensors").string()))},
                  {"optimizer.safetensors", hex64(xxh3_of_file((tmp / "optimizer.safetensors").string()))}};
    j["state_xxh3"] = hex64(xxh3_of_text(j.dump()));  // of every other field, as compact JSON
    const fs::path state = tmp / "state.json";
    {
      std::ofstream f(state);
      f << j.dump(2) << "\n";
      f.flush();
      STRATA_USER_CHECK(f.good(), "writing " + state.string() + " failed (disk full?)");
    }
    fs::remove_all(final_dir, ec);  // a checkpoint of the same step from an interrupted earlier attempt
    publish_folder(tmp.string(), final_dir.string());  // fsync of the files and of tmp, rename, fsync of root
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
  // Keep the newest keep_last_ checkpoints.
  std::vector<fs::path> all;
  for (const auto& e : fs::directory_iterator(root, ec))
    if (e.is_directory() && e.path().filename().string().rfind("step_", 0) == 0 &&
        e.path().filename().string().find('.') == std::string::npos)
      all.push_back(e.path());
  std::sort(all.begin(), all.end());
  for (size_t i = 0; i + keep_last_ < all.size(); ++i) fs::remove_all(all[i], ec);
  return final_dir.string();
}

std::optional<std::string> CheckpointStore::latest(const std::string& run_dir) {
  const fs::path root = fs::path(run_dir) / "checkpoints";
  std::error_code ec;
  std::vector<fs::path> all;
  for (const auto& e : fs::directory_iterator(root, ec)) {
    const std::string n = e.path().filename().string();
    if (e.is_directory() && n.rfind("step_", 0) == 0 && n.find('.') == std::string::npos &&
        fs::exists(e.path() / "state.json"))
      all.push_back(e.path());
  }
  if (all.empty()) return std::nullopt;
  std::sort(all.begin(), all.end());
  return all.back().string();
}

void validate_state(const TrainerState& s, const BlobIds& ids, const std::string& origin) {
  const std::string at = origin + ": ";
  STRATA_USER_CHECK(s.step >= 0, at + "step = " + std::to_string(s.step) + " is negative");
  for (const auto* list : {&s.active_blobs, &s.dirty_blobs}) {
    const char* name = list == &s.active_blobs ? "active_blobs" : "dirty_blobs";
    std::vector<BlobId> sorted = *list;
    std::sort(sorted.begin(), sorted.end());
    for (size_t i = 0; i < sorted.size(); ++i) {
      STRATA_USER_CHECK(ids.valid(sorted[i]), at + name + " holds blob id " + to_string(sorted[i]) +
                                                  ", outside this model's 0.." + std::to_string(ids.count() - 1));
      STRATA_USER_CHECK(i == 0 || sorted[i] != sorted[i - 1],
                        at + name + " holds blob id " + to_string(sorted[i]) + " twice");
    }
  }
  STRATA_USER_CHECK((int)s.adam_steps.size() == ids.count(),
                    at + "adam_steps has " + std::to_string(s.adam_steps.size()) + " entries, the model has " +
                        std::to_string(ids.count()) + " blobs");
  for (size_t i = 0; i < s.adam_steps.size(); ++i)
    STRATA_USER_CHECK(s.adam_steps[i] >= 0 && s.adam_steps[i] <= s.step,
                      at + "adam_steps[" + std::to_string(i) + "] = " + std::to_string(s.adam_steps[i]) +
                          " is outside 0..step (" + std::to_string(s.step) + ")");
  STRATA_USER_CHECK(s.nonfinite_in_a_row >= 0 && s.nonfinite_total >= s.nonfinite_in_a_row,
                    at + "nonfinite_in_a_row / nonfinite_total (" + std::to_string(s.nonfinite_in_a_row) + " / " +
                        std::to_string(s.nonfinite_total) + ") are inconsistent");
  STRATA_USER_CHECK(s.cpu_threads >= 0 && s.cpu_threads <= 65536,
                    at + "cpu_threads = " + std::to_string(s.cpu_threads) + " is outside 0..65536");
  STRATA_USER_CHECK(s.ranks >= 1 && s.ranks <= (1 << 20), at + "ranks = " + std::to_string(s.ranks) +
                                                               " is outside 1..1048576");
}

LoadedCheckpoint CheckpointStore::load(const std::string& dir) {
  const fs::path state = fs::path(dir) / "state.json";
  std::ifstream f(state);
  STRATA_USER_CHECK(f.good(), "checkpoint " + dir + " has no state.json (incomplete or not a checkpoint folder)");
  std::stringstream ss;
  ss << f.rdbuf();
  json j;
  try {
    j = json::parse(ss.str());
  } catch (const json::exception& e) {
    STRATA_USER_FAIL(state.string() + ": not valid JSON (" + e.what() + "); " + unusable_checkpoint_advice(dir));
  }
  LoadedCheckpoint ck;
  ck.dir = dir;
  try {
    STRATA_USER_CHECK(j.at("format") == "strata-checkpoint" && j.at("version") == 1,
                      state.string() + ": not a version-1 strata checkpoint");
    // Its own checksum first: a field edited by hand or flipped on disk is caught before any of it is used.
    STRATA_USER_CHECK(j.contains("state_xxh3") && j["state_xxh3"].is_string(),
                      state.string() + ": no state_xxh3 checksum (written by an older Strata, or edited): it "
                                       "cannot be trusted; " + unusable_checkpoint_advice(dir));
    const std::string stored = j["state_xxh3"].get<std::string>();
    json rest = j;
    rest.erase("state_xxh3");
    const std::string actual = hex64(xxh3_of_text(rest.dump()));
    STRATA_USER_CHECK(stored == actual, state.string() + ": checksum mismatch (state_xxh3 " + stored + ", content " +
                                            actual + "): the file was edited or corrupted; " +
                                            unusable_checkpoint_advice(dir));
    TrainerState& s = ck.state;
    s.step = j.at("step").get<int>();
    s.loader.epoch = j.at("loader").at("epoch").get<uint64_t>();
    s.loader.cursor = j.at("loader").at("cursor").get<uint64_t>();
    s.active_blobs = blob_ids(j.at("active_blobs").get<std::vector<int>>());
    s.dirty_blobs = blob_ids(j.at("dirty_blobs").get<std::vector<int>>());
    s.adam_steps = j.at("adam_steps").get<std::vector<int64_t>>();
    s.nonfinite_in_a_row = j.at("nonfinite_in_a_row").get<int>();
    s.nonfinite_total = j.at("nonfinite_total").get<int>();
    s.config_hash = parse_hex64(j.at("config_xxh3").get<std::string>(), state.string() + ": config_xxh3");
    s.cpu_threads = j.value("cpu_threads", 0);  // absent in checkpoints written before it was recorded
    s.ranks = j.value("ranks", 1);              // absent before data parallelism: one process
    for (const char* name : {"weights.safetensors", "optimizer.safetensors"}) {
      const std::string path = (fs::path(dir) / name).string();
      const std::string want = j.at("files").at(name).get<std::string>();
      const std::string got = hex64(xxh3_of_file(path));
      STRATA_USER_CHECK(got == want, path + ": checksum mismatch (xxh3 " + got + ", state.json says " + want +
                                         "); the checkpoint is corrupted: " + unusable_checkpoint_advice(dir));
    }
  } catch (const json::exception& e) {
    STRATA_USER_FAIL(state.string() + ": missing or malformed field (" + e.what() + "); " +
                     unusable_checkpoint_advice(dir));
  }
  ck.weights = std::make_unique<SafetensorsFile>(SafetensorsFile::open((fs::path(dir) / "weights.safetensors").string()));
  ck.optimizer =
      std::make_unique<SafetensorsFile>(SafetensorsFile::open((fs::path(dir) / "optimizer.safetensors").string()));
  return ck;
}

}  // namespace strata
