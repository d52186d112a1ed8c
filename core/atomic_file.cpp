// write_file_atomic (on top of TempFile's temp + fsync + rename + folder fsync) and publish_folder (fsync of every
// file and folder under the temp folder, rename, parent fsync). Errors name the paths and the OS error.
#include "core/atomic_file.h"

#include <fcntl.h>
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
  STRATA_CHECK(fd >= 0, "cannot publish " + publishing + ": cannot open " + p.string() + " to fsync it: " +
                            std::strerror(errno));
  if (::fsync(fd) != 0 && errno != EINVAL) {
    const int err = errno;
    ::close(fd);
    STRATA_FAIL("cannot publish " + publishing + ": fsync of " + p.string() + " failed: " + std::strerror(err) +
                "; check free disk space and the storage device");
  }
  ::close(fd);
}

}  // namespace

void publish_folder(const std::string& tmp, const std::string& final_dir) {
  std::error_code ec;
  STRATA_CHECK(fs::is_directory(tmp, ec), "cannot publish " + final_dir + ": " + tmp + " is not a folder");
  for (auto it = fs::recursive_directory_iterator(tmp, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    const fs::file_status st = it->symlink_status(ec);
    if (ec) break;
    if (fs::is_regular_file(st) || fs::is_directory(st)) fsync_or_fail(it->path(), fs::is_directory(st), final_dir);
  }
  STRATA_CHECK(!ec, "cannot publish " + final_dir + ": cannot list " + tmp + ": " + ec.message());
  fsync_or_fail(tmp, true, final_dir);
  if (std::rename(tmp.c_str(), final_dir.c_str()) != 0)
    STRATA_FAIL("cannot rename " + tmp + " to " + final_dir + ": " + std::strerror(errno));
  sync_parent_folder(final_dir);
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
