// FolderLock implementation: open(O_CREAT) + flock(LOCK_EX | LOCK_NB); the PID is written only once the lock is
// ours, so a refused process reads the holder's PID, never its own.
#include "core/folder_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/check.h"

namespace strata {

namespace {

std::string read_holder(int fd) {
  char buf[32] = {};
  const ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  std::string s = n > 0 ? std::string(buf, (size_t)n) : std::string();
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s.empty() ? "unknown" : s;
}

}  // namespace

FolderLock::FolderLock(const std::string& folder, const std::string& role) {
  const std::string path = (std::filesystem::path(folder) / kFileName).string();
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  STRATA_USER_CHECK(fd_ >= 0, role + ": cannot create the lock file " + path + ": " + std::strerror(errno));
  int rc;
  do rc = ::flock(fd_, LOCK_EX | LOCK_NB);
  while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    const int err = errno;
    const std::string holder = err == EWOULDBLOCK ? read_holder(fd_) : "";
    ::close(fd_);
    fd_ = -1;
    STRATA_USER_CHECK(err != EWOULDBLOCK, role + ": " + folder + " is in use by another strata process (PID " + holder +
                                              "); one process per run folder: wait for it to finish, or stop it first");
    STRATA_USER_FAIL(role + ": cannot lock " + path + ": " + std::strerror(err));
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  const bool ok = ::ftruncate(fd_, 0) == 0 && ::pwrite(fd_, pid.data(), pid.size(), 0) == (ssize_t)pid.size();
  if (!ok) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    STRATA_USER_FAIL(role + ": cannot write the lock file " + path + ": " + std::strerror(err));
  }
}

FolderLock::~FolderLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock; the file stays (removing it would race a waiting locker)
}

}  // namespace strata
