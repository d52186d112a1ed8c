// write_file_atomic (on top of TempFile's temp + fsync + rename + folder fsync), publish_folder (fsync of every
// file and folder under the temp folder, rename, parent fsync) and replace_folder (the same with
// renameat2(RENAME_EXCHANGE), or two renames where the file system lacks it). Errors name the paths and the OS
// error; they are user errors (disk, permissions, file system), not bugs.
#include "core/atomic_file.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "core/check.h"
#include "core/temp_file.h"

namespace strata {

namespace fs = std::filesystem;

void write_file_atomic(const std::string& path, std::string_view contents) {
  TempFile f(path, /*anonymous=*/false, "cannot write " + path);
  f.write(contents.data(), contents.size());
  f.publish();  // on any failure the TempFile destructor removes the temp file
}

namespace {

// fsyncs a file or folder; throws naming it. EINVAL: the file system cannot sync this kind of file (some cannot
// sync folders), which is not an error.
void fsync_or_fail(const fs::path& p, bool is_dir, const std::string& publishing) {
  const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC | (is_dir ? O_DIRECTORY : 0));
  STRATA_USER_CHECK(fd >= 0, "cannot publish " + publishing + ": cannot open " + p.string() + " to fsync it: " +
                                 std::strerror(errno));
  if (::fsync(fd) != 0 && errno != EINVAL) {
    const int err = errno;
    ::close(fd);
    STRATA_USER_FAIL("cannot publish " + publishing + ": fsync of " + p.string() + " failed: " + std::strerror(err) +
                     "; check free disk space and the storage device");
  }
  ::close(fd);
}

// fsyncs every file and folder under `tmp`, then `tmp` itself.
void sync_tree(const std::string& tmp, const std::string& publishing) {
  std::error_code ec;
  STRATA_USER_CHECK(fs::is_directory(tmp, ec), "cannot publish " + publishing + ": " + tmp + " is not a folder");
  for (auto it = fs::recursive_directory_iterator(tmp, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    const fs::file_status st = it->symlink_status(ec);
    if (ec) break;
    if (fs::is_regular_file(st) || fs::is_directory(st)) fsync_or_fail(it->path(), fs::is_directory(st), publishing);
  }
  STRATA_USER_CHECK(!ec, "cannot publish " + publishing + ": cannot list " + tmp + ": " + ec.message());
  fsync_or_fail(tmp, true, publishing);
}

void step_done(std::string_view step) {
  const FolderReplaceTestHooks& h = folder_replace_test_hooks();
  if (h.after_step) h.after_step(step);
}

// renameat2(from, to, RENAME_EXCHANGE) through the system call (no glibc wrapper needed). Returns 0 or an errno.
int exchange_paths(const std::string& from, const std::string& to) {
#ifdef SYS_renameat2
  constexpr unsigned kRenameExchange = 1u << 1;  // RENAME_EXCHANGE of <linux/fs.h>
  if (::syscall(SYS_renameat2, AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), kRenameExchange) == 0) return 0;
  return errno;
#else
  (void)from, (void)to;
  return ENOSYS;
#endif
}

}  // namespace

FolderReplaceTestHooks& folder_replace_test_hooks() {
  static FolderReplaceTestHooks hooks;
  return hooks;
}

void publish_folder(const std::string& tmp, const std::string& final_dir) {
  sync_tree(tmp, final_dir);
  if (std::rename(tmp.c_str(), final_dir.c_str()) != 0)
    STRATA_USER_FAIL("cannot rename " + tmp + " to " + final_dir + ": " + std::strerror(errno));
  sync_parent_folder(final_dir);
}

std::string replace_folder(const std::string& tmp, const std::string& final_dir, const std::string& old_dir) {
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(final_dir, ec))) {  // nothing to replace (any more): a plain publish
    publish_folder(tmp, final_dir);
    return "";
  }
  sync_tree(tmp, final_dir);
  step_done("synced");
  const int err = folder_replace_test_hooks().no_exchange ? ENOSYS : exchange_paths(tmp, final_dir);
  std::string old_copy;
  if (err == 0) {  // one atomic step: final_dir is the new folder, and the old one sits at tmp
    step_done("exchanged");
    old_copy = tmp;
  } else if (err == EINVAL || err == ENOSYS) {
    // No RENAME_EXCHANGE on this file system: two renames, with final_dir missing in between (see the header).
    if (std::rename(final_dir.c_str(), old_dir.c_str()) != 0)
      STRATA_USER_FAIL("cannot move the existing " + final_dir + " aside to " + old_dir + ": " +
                       std::strerror(errno));
    step_done("moved-aside");
    if (std::rename(tmp.c_str(), final_dir.c_str()) != 0) {
      const int rename_err = errno;
      const bool restored = std::rename(old_dir.c_str(), final_dir.c_str()) == 0;
      STRATA_USER_FAIL("cannot rename " + tmp + " to " + final_dir + ": " + std::strerror(rename_err) +
                       (restored ? "; " + final_dir + " is unchanged"
                                 : "; the old folder is now " + old_dir + ": rename it back to " + final_dir));
    }
    step_done("renamed");
    old_copy = old_dir;
  } else {
    STRATA_USER_FAIL("cannot replace " + final_dir + " by " + tmp + ": renameat2(RENAME_EXCHANGE) failed: " +
                     std::strerror(err) + "; " + final_dir + " is unchanged");
  }
  sync_parent_folder(final_dir);
  step_done("parent-synced");
  fs::remove_all(old_copy, ec);
  std::string note;
  if (ec)
    note = "replaced " + final_dir + ", but could not remove the old copy " + old_copy + ": " + ec.message() +
           "; delete it yourself (rm -r)";
  else
    step_done("old-removed");
  sync_parent_folder(final_dir);
  return note;
}

void sync_parent_folder(const std::string& path) {
  fs::path p(path);
  if (!p.has_filename()) p = p.parent_path();  // "out/" names the folder "out"
  const std::string parent = p.parent_path().string();
  const int dfd = ::open(parent.empty() ? "." : parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace strata
