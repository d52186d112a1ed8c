// Implements ScratchFile: open with or without O_DIRECT (probing that O_DIRECT writes really work), a statvfs
// free-space check, fallocate (ftruncate where the file system cannot preallocate), and removal on destruction.
#include "offload/scratch_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "core/check.h"

namespace strata {

std::string describe_bytes(uint64_t bytes) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "%.2f GiB (%llu bytes)", static_cast<double>(bytes) / (1ull << 30),
                static_cast<unsigned long long>(bytes));
  return buf;
}

ScratchFile::ScratchFile(const std::string& path, uint64_t bytes, Direct direct, int simulate_direct_errno)
    : path_(path), bytes_(bytes) {
  try {
    open_and_preallocate(direct, simulate_direct_errno);
  } catch (...) {
    close_and_remove();
    throw;
  }
}

ScratchFile::ScratchFile(ScratchFile&& o) noexcept
    : path_(std::move(o.path_)),
      bytes_(o.bytes_),
      fd_(o.fd_),
      direct_(o.direct_),
      remove_(o.remove_),
      direct_refusal_(std::move(o.direct_refusal_)) {
  o.fd_ = -1;
  o.remove_ = false;
}

ScratchFile::~ScratchFile() { close_and_remove(); }

void ScratchFile::close_and_remove() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (remove_) ::unlink(path_.c_str());
  remove_ = false;
}

void ScratchFile::open_and_preallocate(Direct direct, int simulate_direct_errno) {
  struct stat st {};
  if (::stat(path_.c_str(), &st) == 0) {
    STRATA_USER_CHECK(S_ISREG(st.st_mode), path_ +
                                               ": the offload file path exists and is not a regular file; "
                                               "point the disk tier at a file in a writable directory");
  } else {
    remove_ = true;  // whatever a failed open leaves there is ours
  }
  const int base_flags = O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC;
  if (direct != Direct::No) {
    int err = simulate_direct_errno;
    if (err == 0) {
      fd_ = ::open(path_.c_str(), base_flags | O_DIRECT, 0600);
      if (fd_ < 0) err = errno;
    }
    if (fd_ >= 0) {
      direct_ = true;
      remove_ = true;
    } else if (err != EINVAL) {
      STRATA_USER_FAIL(path_ + ": cannot create the offload file (" + std::strerror(err) +
                       "); check that the directory exists and is writable, or choose another one");
    } else {
      STRATA_USER_CHECK(direct != Direct::Require, "O_DIRECT not supported on " + path_ + " (" + std::strerror(err) +
                                                       "); put the offload file on a file system that supports it "
                                                       "(ext4, xfs) or use the pread disk I/O");
      direct_refusal_ = std::strerror(err);
    }
  }
  if (fd_ < 0) {
    fd_ = ::open(path_.c_str(), base_flags, 0600);
    if (fd_ < 0) {
      const int err = errno;
      STRATA_USER_FAIL(path_ + ": cannot create the offload file (" + std::strerror(err) +
                       "); check that the directory exists and is writable, or choose another one");
    }
    remove_ = true;
  }

  // Free space first: on ext4 a fallocate beyond the free space fills the disk before it fails.
  struct statvfs vfs {};
  if (::fstatvfs(fd_, &vfs) == 0) {
    const uint64_t free_bytes = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
    STRATA_USER_CHECK(bytes_ <= free_bytes,
                      path_ + ": cannot preallocate the offload file: it needs " + describe_bytes(bytes_) +
                          " but its file system has only " + describe_bytes(free_bytes) + " free (" +
                          std::strerror(ENOSPC) +
                          "); free space, choose another directory, or keep fewer layers on disk");
  }
  if (bytes_ > 0 && ::fallocate(fd_, 0, 0, static_cast<off_t>(bytes_)) != 0) {
    const int err = errno;
    if (err == EOPNOTSUPP) {
      STRATA_USER_CHECK(::ftruncate(fd_, static_cast<off_t>(bytes_)) == 0,
                        path_ + ": cannot size the offload file to " + describe_bytes(bytes_) + " (" +
                            std::strerror(errno) + "); choose another directory");
    } else {
      uint64_t free_bytes = 0;
      if (::fstatvfs(fd_, &vfs) == 0) free_bytes = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
      STRATA_USER_FAIL(path_ + ": cannot preallocate the offload file: fallocate of " + describe_bytes(bytes_) +
                       " failed (" + std::strerror(err) + ") with " + describe_bytes(free_bytes) +
                       " free on its file system; free space, choose another directory, or keep fewer layers on disk");
    }
  }

  // Some file systems accept O_DIRECT at open and refuse the I/O: probe one aligned page.
  if (direct_ && bytes_ >= 4096) {
    std::unique_ptr<void, decltype(&std::free)> page(std::aligned_alloc(4096, 4096), &std::free);
    STRATA_CHECK(page != nullptr, "out of host memory");
    std::memset(page.get(), 0, 4096);
    if (::pwrite(fd_, page.get(), 4096, 0) != 4096) {
      const int err = errno;
      STRATA_USER_CHECK(err == EINVAL && direct != Direct::Require,
                        path_ + ": an O_DIRECT write to the offload file failed (" + std::strerror(err) +
                            "); put it on a file system that supports O_DIRECT (ext4, xfs) or use the pread disk I/O");
      ::close(fd_);
      fd_ = ::open(path_.c_str(), O_RDWR | O_CLOEXEC);
      STRATA_USER_CHECK(fd_ >= 0, path_ + ": cannot reopen the offload file (" + std::strerror(errno) + ")");
      direct_ = false;
      direct_refusal_ = std::strerror(err);
    }
  }
}

}  // namespace strata
