// Tests of core/atomic_file: write_file_atomic publishes whole files (new contents, no temp left, failures name the
// path and leave the old file untouched, readers never see a half-written file), publish_folder, and
// replace_folder (an atomic exchange with the existing folder, or the two-rename fallback; a kill after any step
// leaves a complete folder).
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/atomic_file.h"
#include "core/check.h"
#include "tests/support/temp_dir.h"

namespace strata {
namespace {

namespace fs = std::filesystem;
using test::error_of;
using test::TempDir;

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(AtomicFile, WritesTheNewContentsAndLeavesNoTempFile) {
  TempDir tmp;
  const std::string path = tmp / "plan.json";
  write_file_atomic(path, "{\"a\": 1}\n");
  EXPECT_EQ(read_all(path), "{\"a\": 1}\n");
  write_file_atomic(path, "");  // empty contents are a valid (empty) file
  EXPECT_TRUE(fs::exists(path));
  EXPECT_EQ(fs::file_size(path), 0u);
  const std::string big(3 * 1024 * 1024 + 17, 'x');  // past the temp file's write buffer
  write_file_atomic(path, big);
  EXPECT_EQ(read_all(path), big);
  EXPECT_EQ(names_in(tmp.path()), std::vector<std::string>{"plan.json"});
  EXPECT_EQ(fs::status(path).permissions() & fs::perms::others_read, fs::perms::others_read);  // an ordinary file
}

TEST(AtomicFile, MissingFolderThrowsNamingThePathAndLeavesTheOldFileUntouched) {
  TempDir tmp;
  const std::string old_path = tmp / "metrics.jsonl";
  write_file_atomic(old_path, "old\n");
  const std::string path = tmp / "missing/metrics.jsonl";
  const std::string err = error_of([&] { write_file_atomic(path, "new\n"); });
  EXPECT_NE(err.find(path), std::string::npos) << err;
  EXPECT_NE(err.find("No such file or directory"), std::string::npos) << err;  // the OS error
  EXPECT_EQ(read_all(old_path), "old\n");
  EXPECT_FALSE(fs::exists(tmp / "missing"));
  EXPECT_EQ(names_in(tmp.path()), std::vector<std::string>{"metrics.jsonl"});
}

TEST(AtomicFile, FailedRenameThrowsAndLeavesNoTempFile) {
  TempDir tmp;
  const std::string path = tmp / "report.html";
  fs::create_directory(path);  // a folder where the file should go: the rename fails after the temp is written
  std::ofstream(tmp / "report.html/keep") << "kept";
  const std::string err = error_of([&] { write_file_atomic(path, "<html></html>\n"); });
  EXPECT_NE(err.find(path), std::string::npos) << err;
  EXPECT_EQ(names_in(tmp.path()), std::vector<std::string>{"report.html"});
  EXPECT_EQ(read_all(tmp / "report.html/keep"), "kept");
}

TEST(AtomicFile, ReplacesAnExistingFileOnlyAsAWhole) {
  TempDir tmp;
  const std::string path = tmp / "trace.json";
  const std::string long_text(100000, 'L');
  write_file_atomic(path, long_text);
  // A hard link to the old file keeps seeing all of it: the new file is a new inode renamed over the name, never
  // the old file rewritten in place.
  fs::create_hard_link(path, tmp / "old-link");
  write_file_atomic(path, "short\n");
  EXPECT_EQ(read_all(path), "short\n");  // no tail of the longer old contents
  EXPECT_EQ(read_all(tmp / "old-link"), long_text);

  // A reader racing the writer sees one whole version or the other, never a mix or a truncated file.
  const std::string a(200000, 'a'), b(300000, 'b');
  write_file_atomic(path, a);
  std::atomic<bool> done{false};
  std::atomic<int> bad{0}, reads{0};
  std::thread reader([&] {
    while (!done.load()) {
      const std::string got = read_all(path);
      if (got != a && got != b) bad++;
      reads++;
    }
  });
  for (int i = 0; i < 40; ++i) write_file_atomic(path, i % 2 ? a : b);
  done = true;
  reader.join();
  EXPECT_EQ(bad.load(), 0) << "of " << reads.load() << " reads";
  EXPECT_EQ(read_all(path), a);
}

TEST(PublishFolder, RenamesAFullyWrittenFolderIntoPlace) {
  TempDir tmp;
  const std::string staging = tmp / "step_00000010.tmp";
  const std::string final_dir = tmp / "step_00000010";
  fs::create_directories(staging + "/sub");
  std::ofstream(staging + "/state.json") << "{}\n";
  std::ofstream(staging + "/sub/weights.bin") << "w";
  publish_folder(staging, final_dir);
  EXPECT_FALSE(fs::exists(staging));
  EXPECT_EQ(read_all(final_dir + "/state.json"), "{}\n");
  EXPECT_EQ(read_all(final_dir + "/sub/weights.bin"), "w");
}

TEST(PublishFolder, ErrorsNameThePaths) {
  TempDir tmp;
  const std::string missing = tmp / "nothing.tmp";
  std::string err = error_of([&] { publish_folder(missing, tmp / "out"); });
  EXPECT_NE(err.find(missing), std::string::npos) << err;

  // An existing, non-empty final folder is not replaced: callers move it aside or remove it first.
  const std::string staging = tmp / "out.tmp", final_dir = tmp / "out";
  fs::create_directories(staging);
  fs::create_directories(final_dir);
  std::ofstream(staging + "/new") << "new";
  std::ofstream(final_dir + "/old") << "old";
  err = error_of([&] { publish_folder(staging, final_dir); });
  EXPECT_NE(err.find(staging), std::string::npos) << err;
  EXPECT_NE(err.find(final_dir), std::string::npos) << err;
  EXPECT_EQ(read_all(final_dir + "/old"), "old");
  EXPECT_EQ(read_all(staging + "/new"), "new");
}

// ---- replace_folder ---------------------------------------------------------------------------------------------

// Sets replace_folder's test hooks for one scope.
struct HooksScope {
  explicit HooksScope(bool no_exchange, std::function<void(std::string_view)> after_step = {}) {
    folder_replace_test_hooks().no_exchange = no_exchange;
    folder_replace_test_hooks().after_step = std::move(after_step);
  }
  ~HooksScope() { folder_replace_test_hooks() = {}; }
};

// Whether the file system under `dir` has renameat2(RENAME_EXCHANGE) (tmpfs, ext4, xfs, btrfs do; NFS does not).
bool exchange_supported(const std::string& dir) {
  const std::string a = dir + "/probe-a", b = dir + "/probe-b";
  fs::create_directory(a);
  fs::create_directory(b);
  const bool ok = ::syscall(SYS_renameat2, AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), 1u << 1) == 0;
  fs::remove(a);
  fs::remove(b);
  return ok;
}

// A folder `dir` holding "weights" = `text` and "sub/more" = `text` + "!".
void make_folder(const std::string& dir, const std::string& text) {
  fs::create_directories(dir + "/sub");
  std::ofstream(dir + "/weights") << text;
  std::ofstream(dir + "/sub/more") << text << "!";
}

// "old", "new", "missing", or "mixed" (anything else, e.g. a partial folder).
std::string folder_version(const std::string& dir) {
  if (!fs::exists(dir)) return "missing";
  const std::vector<std::string> want{"sub", "weights"};
  if (names_in(dir) != want) return "mixed";
  const std::string w = read_all(dir + "/weights"), m = read_all(dir + "/sub/more");
  if (w == "old" && m == "old!") return "old";
  if (w == "new" && m == "new!") return "new";
  return "mixed";
}

TEST(ReplaceFolder, SwapsInTheNewFolderAndRemovesTheOldOne) {
  for (const bool no_exchange : {false, true}) {
    TempDir tmp;
    if (!no_exchange && !exchange_supported(tmp.path())) {
      std::cout << "note: no RENAME_EXCHANGE under " << tmp.path() << "; testing the fallback only\n";
      continue;
    }
    make_folder(tmp / "m", "old");
    make_folder(tmp / "m.tmp-1", "new");
    std::vector<std::string> steps;
    HooksScope hooks(no_exchange, [&](std::string_view s) { steps.emplace_back(s); });
    EXPECT_EQ(replace_folder(tmp / "m.tmp-1", tmp / "m", tmp / "m.old-1"), "");
    EXPECT_EQ(folder_version(tmp / "m"), "new");
    EXPECT_EQ(names_in(tmp.path()), std::vector<std::string>{"m"});  // neither the temp nor the old copy is left
    const std::vector<std::string> want =
        no_exchange ? std::vector<std::string>{"synced", "moved-aside", "renamed", "parent-synced", "old-removed"}
                    : std::vector<std::string>{"synced", "exchanged", "parent-synced", "old-removed"};
    EXPECT_EQ(steps, want) << (no_exchange ? "two renames" : "exchange");
  }
}

TEST(ReplaceFolder, WithNothingToReplaceItIsAPlainPublish) {
  TempDir tmp;
  make_folder(tmp / "m.tmp-1", "new");
  EXPECT_EQ(replace_folder(tmp / "m.tmp-1", tmp / "m", tmp / "m.old-1"), "");
  EXPECT_EQ(folder_version(tmp / "m"), "new");
  EXPECT_EQ(names_in(tmp.path()), std::vector<std::string>{"m"});
}

TEST(ReplaceFolder, ErrorsNameThePathsAndLeaveTheOldFolder) {
  TempDir tmp;
  make_folder(tmp / "m", "old");
  const std::string err = error_of([&] { replace_folder(tmp / "m.tmp-1", tmp / "m", tmp / "m.old-1"); });
  EXPECT_NE(err.find(tmp / "m.tmp-1"), std::string::npos) << err;
  EXPECT_EQ(err.find("atomic_file.cpp"), std::string::npos) << "a user error, without a source location: " << err;
  EXPECT_EQ(folder_version(tmp / "m"), "old");
}

// A kill right after each step of replace_folder (a forked child that _exits there: no destructor, no catch
// runs) leaves `m` the complete old or the complete new folder; only the fallback's window between its two
// renames leaves `m` missing, with the complete old folder at m.old-PID and the complete new one at m.tmp-PID.
TEST(ReplaceFolder, AKillAfterAnyStepLeavesACompleteFolder) {
  struct Case {
    bool no_exchange;
    const char* step;
    const char* m;      // what `m` is after the kill
    const char* tmp;    // what m.tmp-1 is
    const char* old;    // what m.old-1 is
  };
  const Case cases[] = {
      {false, "synced", "old", "new", "missing"},        {false, "exchanged", "new", "old", "missing"},
      {false, "parent-synced", "new", "old", "missing"}, {false, "old-removed", "new", "missing", "missing"},
      {true, "synced", "old", "new", "missing"},         {true, "moved-aside", "missing", "new", "old"},
      {true, "renamed", "new", "missing", "old"},        {true, "parent-synced", "new", "missing", "old"},
      {true, "old-removed", "new", "missing", "missing"},
  };
  for (const Case& c : cases) {
    TempDir tmp;
    if (!c.no_exchange && !exchange_supported(tmp.path())) continue;
    make_folder(tmp / "m", "old");
    make_folder(tmp / "m.tmp-1", "new");
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      HooksScope hooks(c.no_exchange, [&](std::string_view s) {
        if (s == c.step) ::_exit(42);
      });
      try {
        replace_folder(tmp / "m.tmp-1", tmp / "m", tmp / "m.old-1");
      } catch (...) {
        ::_exit(3);
      }
      ::_exit(0);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    const std::string where = std::string(c.no_exchange ? "two renames" : "exchange") + ", killed after " + c.step;
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 42) << where;
    EXPECT_EQ(folder_version(tmp / "m"), c.m) << where;
    EXPECT_EQ(folder_version(tmp / "m.tmp-1"), c.tmp) << where;
    EXPECT_EQ(folder_version(tmp / "m.old-1"), c.old) << where;
  }
}

}  // namespace
}  // namespace strata
