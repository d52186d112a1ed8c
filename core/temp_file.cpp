// TempFile: buffered appends to a temp file next to the target, a kernel-side copy of one temp file into another,
// and the atomic publish (fsync, rename, folder fsync). Errors name the target and say what to check.
#include "core/temp_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include "core/atomic_file.h"
#include "core/check.h"

namespace strata {

TempFile::TempFile(const std::string& target, bool anonymous, std::string error_prefix)
    : target_(target), prefix_(std::move(error_prefix)) {
  tmp_ = target + (anonymous ? ".part-XXXXXX" : ".tmp-XXXXXX");
  fd_ = ::mkstemp(tmp_.data());
  if (fd_ < 0) fail("cannot create a temp file next to it: " + std::string(std::strerror(errno)) +
                    "; check that the folder exists and is writable");
  if (anonymous) {
    ::unlink(tmp_.c_str());
    tmp_.clear();
  }
  buf_.reserve(kFlushBytes + 64);
}

TempFile::~TempFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!tmp_.empty()) ::unlink(tmp_.c_str());
}

void TempFile::fail(const std::string& what) const { STRATA_USER_FAIL(prefix_ + ": " + what); }

void TempFile::write(const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  if (n >= kFlushBytes) {  // large writes skip the buffer (no copy of a whole file held in memory)
    flush();
    write_all(p, n);
    written_ += n;
    return;
  }
  buf_.insert(buf_.end(), p, p + n);
  maybe_flush();
}

void TempFile::write_all(const unsigned char* p, size_t size) {
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::write(fd_, p + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("write failed: " + std::string(n < 0 ? std::strerror(errno) : "no progress") +
                     "; check free disk space");
    done += static_cast<size_t>(n);
  }
}

void TempFile::flush() {
  write_all(buf_.data(), buf_.size());
  written_ += buf_.size();
  buf_.clear();
}

void TempFile::append_file(TempFile& src) {
  src.flush();
  flush();
  loff_t in_off = 0;
  const auto total = static_cast<loff_t>(src.written_);
  while (in_off < total) {  // the kernel copies (or reflinks); fall back to read/write where it cannot
    const ssize_t n = ::copy_file_range(src.fd_, &in_off, fd_, nullptr, static_cast<size_t>(total - in_off), 0);
    if (n > 0) continue;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP)
      fail("copying between temp files failed: " + std::string(std::strerror(errno)) + "; check free disk space");
    std::vector<unsigned char> chunk(kFlushBytes);
    while (in_off < total) {
      const size_t want = static_cast<size_t>(std::min<loff_t>(total - in_off, static_cast<loff_t>(chunk.size())));
      const ssize_t got = ::pread(src.fd_, chunk.data(), want, in_off);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) fail("reading back a temp file failed: " + std::string(got < 0 ? std::strerror(errno) : "EOF"));
      write_all(chunk.data(), static_cast<size_t>(got));
      in_off += got;
    }
    break;
  }
  written_ += static_cast<uint64_t>(total);
}

void TempFile::publish() {
  flush();
  ::fchmod(fd_, 0644);  // mkstemp creates 0600; a published file is an ordinary one
  if (::fsync(fd_) != 0) fail("fsync failed: " + std::string(std::strerror(errno)) + "; check free disk space");
  const int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0) fail("close failed: " + std::string(std::strerror(errno)) + "; check free disk space");
  if (::rename(tmp_.c_str(), target_.c_str()) != 0)
    fail("cannot rename " + tmp_ + " into place: " + std::strerror(errno));
  tmp_.clear();
  sync_parent_folder(target_);
}

}  // namespace strata
