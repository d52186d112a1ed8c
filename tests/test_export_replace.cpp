// Tests of replacing a model folder with write_hf_model (`strata export/init-model --force`): a kill after any step
// of the replacement leaves the complete old or the complete new folder, and the next write of the same path
// recovers what a killed run left (OUT.tmp-PID, OUT.old-PID of a process that no longer runs): it restores a
// missing folder, removes the leftovers that are provably its own, and reports the others in one line that says
// what to do. Also: what --force refuses to replace, and output paths written with a trailing slash.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "core/check.h"
#include "formats/hf_export.h"
#include "model/presets.h"
#include "tests/support/temp_dir.h"

namespace strata {
namespace {

namespace fs = std::filesystem;
using test::error_of;
using test::TempDir;

const ModelInfo& tiny_info() { return find_preset("tiny")->info; }

// Two small tensors filled with `value` (plain memcpy: safe in a forked child). The folder's config.json is the
// tiny preset's; the completeness check (HfModelFolder::open) looks at the files, not at tensor names.
std::vector<TensorSource> sources(float value) {
  std::vector<TensorSource> t;
  for (const auto& [name, n] : {std::pair<std::string, int64_t>{"a", 64}, {"b", 32}})
    t.push_back({name, DType::F32, {n}, [value, n = n](void* dst) {
                   std::vector<float> v((size_t)n, value);
                   std::memcpy(dst, v.data(), v.size() * sizeof(float));
                 }});
  return t;
}

ExportOptions options(bool overwrite, std::vector<std::string>* notes, size_t shard_bytes = 5000000000ull) {
  ExportOptions ex;
  ex.overwrite = overwrite;
  ex.max_shard_bytes = shard_bytes;
  ex.warn = [notes](const std::string& m) {
    if (notes) notes->push_back(m);
  };
  return ex;
}

// file name -> contents, for every file of `dir` (empty when `dir` does not exist).
std::map<std::string, std::string> snapshot(const std::string& dir) {
  std::map<std::string, std::string> files;
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::ifstream f(it->path(), std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    files[it->path().filename().string()] = ss.str();
  }
  return files;
}

std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// The id of a process that has exited (and been reaped): no process runs under it.
pid_t gone_pid() {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return pid;
}

bool exchange_supported(const std::string& dir) {
  const std::string a = dir + "/probe-a", b = dir + "/probe-b";
  fs::create_directory(a);
  fs::create_directory(b);
  const bool ok = ::syscall(SYS_renameat2, AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), 1u << 1) == 0;
  fs::remove(a);
  fs::remove(b);
  return ok;
}

// Runs write_hf_model(out, sources(value), overwrite) in a forked child stopped (_exit: like a kill, no destructor
// or catch runs) right after replace_folder's step `step`; returns the child's id, gone by then.
pid_t write_killed_after(const std::string& out, float value, const std::string& step, bool no_exchange,
                         size_t shard_bytes) {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    folder_replace_test_hooks().no_exchange = no_exchange;
    folder_replace_test_hooks().after_step = [step](std::string_view s) {
      if (s == step) ::_exit(42);
    };
    try {
      write_hf_model(out, tiny_info(), sources(value), options(true, nullptr, shard_bytes));
    } catch (...) {
      ::_exit(3);
    }
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 42) << "killed after " << step;
  return pid;
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(ExportReplace, AKillAtAnyStepLeavesTheOldOrNewFolderAndTheNextWriteRecovers) {
  struct Case {
    bool no_exchange;
    const char* step;
    bool new_in_place;  // after the kill (and after the recovery), `m` is the new folder; else the old one
  };
  const Case cases[] = {
      {false, "synced", false}, {false, "exchanged", true},  {false, "parent-synced", true},
      {false, "old-removed", true}, {true, "synced", false}, {true, "moved-aside", false},
      {true, "renamed", true},  {true, "parent-synced", true}, {true, "old-removed", true},
  };
  for (const size_t shard_bytes : {size_t(5000000000ull), size_t(200)}) {  // one file; shards with an index
    for (const Case& c : cases) {
      TempDir tmp;
      if (!c.no_exchange && !exchange_supported(tmp.path())) continue;
      const std::string where = std::string(c.no_exchange ? "two renames" : "exchange") + ", killed after " +
                                c.step + (shard_bytes < 1000 ? ", sharded" : "");
      const std::string out = tmp / "m";
      write_hf_model(tmp / "ref-old", tiny_info(), sources(1), options(false, nullptr, shard_bytes));
      write_hf_model(tmp / "ref-new", tiny_info(), sources(2), options(false, nullptr, shard_bytes));
      const auto old_files = snapshot(tmp / "ref-old"), new_files = snapshot(tmp / "ref-new");
      ASSERT_NE(old_files, new_files);
      fs::copy(tmp / "ref-old", out);

      const pid_t pid = write_killed_after(out, 2, c.step, c.no_exchange, shard_bytes);
      const std::string tmp_copy = out + ".tmp-" + std::to_string(pid), old_copy = out + ".old-" + std::to_string(pid);
      if (std::string(c.step) == "moved-aside") {  // the fallback's window: both complete copies are kept
        EXPECT_FALSE(fs::exists(out)) << where;
        EXPECT_EQ(snapshot(old_copy), old_files) << where;
        EXPECT_EQ(snapshot(tmp_copy), new_files) << where;
      } else {
        EXPECT_EQ(snapshot(out), c.new_in_place ? new_files : old_files) << where;
      }

      // The next write of `m` (here without --force: it then fails as "already exists") recovers first.
      std::vector<std::string> notes;
      const std::string err = error_of([&] { write_hf_model(out, tiny_info(), sources(3), options(false, &notes)); });
      EXPECT_TRUE(has(err, "already exists")) << where << ": " << err;
      EXPECT_EQ(names_in(tmp.path()), (std::vector<std::string>{"m", "ref-new", "ref-old"})) << where;
      EXPECT_EQ(snapshot(out), c.new_in_place ? new_files : old_files) << where;
      std::string all;
      for (const auto& n : notes) all += n + "\n";
      if (std::string(c.step) == "old-removed") {
        EXPECT_TRUE(notes.empty()) << where << ": " << all;
      } else if (std::string(c.step) == "moved-aside") {
        ASSERT_EQ(notes.size(), 2u) << where << ": " << all;
        EXPECT_TRUE(has(notes[0], "restored " + out + " from " + old_copy)) << notes[0];
        EXPECT_TRUE(has(notes[1], "removed " + tmp_copy)) << notes[1];
      } else {
        ASSERT_EQ(notes.size(), 1u) << where << ": " << all;
        EXPECT_TRUE(has(notes[0], "removed ")) << notes[0];
        EXPECT_TRUE(has(notes[0], "process " + std::to_string(pid) + ", no longer running")) << notes[0];
      }
    }
  }
}

TEST(ExportReplace, LeftoversNotProvablyOursAreReportedOnceAndKept) {
  TempDir tmp;
  const std::string out = tmp / "m";
  write_hf_model(out, tiny_info(), sources(1), options(false, nullptr));
  const std::string dead = std::to_string(gone_pid()), dead2 = std::to_string(gone_pid());
  // Someone's notes in an old copy, a subfolder in a temp copy: not files Strata writes.
  fs::create_directory(out + ".old-" + dead);
  std::ofstream(out + ".old-" + dead + "/notes.txt") << "mine";
  fs::create_directories(out + ".tmp-" + dead2 + "/sub");
  // Not leftovers: a running process's temp folder, a file with a leftover's name, another folder's leftover.
  fs::copy(out, out + ".tmp-" + std::to_string(::getppid()));
  std::ofstream(out + ".old-1" + dead) << "a file";
  fs::copy(out, tmp / ("m2.tmp-" + dead));

  std::vector<std::string> notes;
  write_hf_model(out, tiny_info(), sources(2), options(true, &notes));
  ASSERT_EQ(notes.size(), 1u) << "one line, not repeated after the write";
  const std::string& n = notes[0];
  EXPECT_TRUE(has(n, "found " + out + ".old-" + dead + ", " + out + ".tmp-" + dead2)) << n;
  EXPECT_TRUE(has(n, "kept them because they hold files Strata does not write")) << n;
  EXPECT_TRUE(has(n, "delete the rest with rm -r")) << n;
  std::vector<std::string> want{"m", "m.old-" + dead, "m.old-1" + dead, "m.tmp-" + dead2,
                                "m.tmp-" + std::to_string(::getppid()), "m2.tmp-" + dead};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(names_in(tmp.path()), want);

  // With `m` not a complete model folder, even a leftover holding only our files is kept (it may be the good copy).
  fs::remove_all(out + ".old-" + dead);
  fs::remove_all(out + ".tmp-" + dead2);
  fs::copy(out, out + ".tmp-" + dead);
  fs::remove(out + "/model.safetensors");
  notes.clear();
  const std::string err = error_of([&] { write_hf_model(out, tiny_info(), sources(3), options(false, &notes)); });
  EXPECT_TRUE(has(err, "already exists")) << err;
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_TRUE(has(notes[0], "kept it because " + out + " is not a complete model folder")) << notes[0];
  EXPECT_TRUE(fs::exists(out + ".tmp-" + dead));
}

TEST(ExportReplace, ATempLeftoverOfAKilledFirstWriteIsRemovedOnceTheFolderIsWritten) {
  TempDir tmp;
  const std::string out = tmp / "m";
  const std::string dead = std::to_string(gone_pid());
  write_hf_model(tmp / "ref", tiny_info(), sources(1), options(false, nullptr));
  fs::copy(tmp / "ref", out + ".tmp-" + dead);
  fs::remove(out + ".tmp-" + dead + "/model.safetensors");  // killed while writing
  std::vector<std::string> notes;
  write_hf_model(out, tiny_info(), sources(2), options(false, &notes));
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_TRUE(has(notes[0], "removed " + out + ".tmp-" + dead)) << notes[0];
  EXPECT_EQ(names_in(tmp.path()), (std::vector<std::string>{"m", "ref"}));
}

TEST(ExportReplace, ForceReplacesOnlyAModelFolderOrAnEmptyOne) {
  TempDir tmp;
  fs::create_directories(tmp / "runs/a");
  std::ofstream(tmp / "runs/a/metrics.jsonl") << "{}\n";
  std::string err = error_of([&] { write_hf_model(tmp / "runs", tiny_info(), sources(1), options(true, nullptr)); });
  EXPECT_TRUE(has(err, "--force replaces only a model folder")) << err;
  EXPECT_FALSE(has(err, "hf_export.cpp")) << "a user error has no source location: " << err;
  EXPECT_TRUE(fs::exists(tmp / "runs/a/metrics.jsonl"));
  std::ofstream(tmp / "file") << "x";
  err = error_of([&] { write_hf_model(tmp / "file", tiny_info(), sources(1), options(true, nullptr)); });
  EXPECT_TRUE(has(err, "exists and is not a folder")) << err;

  // The current folder, one above it and the root are refused (replacing them would delete the user's files).
  const fs::path cwd = fs::current_path();
  fs::current_path(tmp / "runs/a");
  for (const std::string dir : {".", "..", "./", "/"}) {
    err = error_of([&] { write_hf_model(dir, tiny_info(), sources(1), options(true, nullptr)); });
    EXPECT_TRUE(has(err, "choose a new folder")) << dir << ": " << err;
  }
  fs::current_path(cwd);
  EXPECT_TRUE(fs::exists(tmp / "runs/a/metrics.jsonl"));
  err = error_of([&] { write_hf_model("", tiny_info(), sources(1), options(true, nullptr)); });
  EXPECT_TRUE(has(err, "the output folder path is empty")) << err;

  // A symbolic link is replaced itself; what it points to is left alone.
  fs::create_directory_symlink(tmp / "runs", tmp / "link");
  write_hf_model(tmp / "link", tiny_info(), sources(1), options(true, nullptr));
  EXPECT_FALSE(fs::is_symlink(tmp / "link"));
  EXPECT_TRUE(fs::exists(tmp / "link/config.json"));
  EXPECT_TRUE(fs::exists(tmp / "runs/a/metrics.jsonl"));
  fs::remove_all(tmp / "link");

  // An empty folder is replaced; a trailing slash names the folder itself.
  fs::create_directory(tmp / "empty");
  write_hf_model(tmp / "empty/", tiny_info(), sources(1), options(true, nullptr));
  EXPECT_TRUE(fs::exists(tmp / "empty/config.json"));
  write_hf_model(tmp / "new/", tiny_info(), sources(1), options(false, nullptr));
  EXPECT_TRUE(fs::exists(tmp / "new/model.safetensors"));
  EXPECT_EQ(names_in(tmp.path()), (std::vector<std::string>{"empty", "file", "new", "runs"}));
}

}  // namespace
}  // namespace strata
