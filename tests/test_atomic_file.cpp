// Tests of core/atomic_file: write_file_atomic publishes whole files (new contents, no temp left, failures name the
// path and leave the old file untouched, readers never see a half-written file) and publish_folder.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
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

}  // namespace
}  // namespace strata
