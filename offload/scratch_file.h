// ScratchFile: the preallocated offload file of a disk tier (RAII: closed and deleted on destruction). Opens it with
// O_DIRECT when asked and supported, preallocates it with fallocate, and turns ENOSPC/EFBIG into one clear line.
#pragma once
#include <cstdint>
#include <string>

namespace strata {

class ScratchFile {
 public:
  enum class Direct { Require, IfSupported, No };

  // Creates (or truncates) `path` and preallocates `bytes`. Throws StrataError naming the path when the file cannot
  // be created, when `bytes` exceed the free space of its file system (checked first with statvfs, so a doomed
  // fallocate never fills the disk) or fallocate fails; nothing is left behind then. With Direct::IfSupported a
  // file system that refuses O_DIRECT gives a buffered file and direct_refusal() says why; with Require it throws.
  // `simulate_direct_errno` (tests) makes the O_DIRECT open fail with that errno.
  ScratchFile(const std::string& path, uint64_t bytes, Direct direct, int simulate_direct_errno = 0);
  ~ScratchFile();
  ScratchFile(ScratchFile&& o) noexcept;
  ScratchFile& operator=(ScratchFile&&) = delete;
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  uint64_t bytes() const { return bytes_; }
  bool direct() const { return direct_; }
  // Why O_DIRECT is off although it was asked for ("Invalid argument"); empty otherwise.
  const std::string& direct_refusal() const { return direct_refusal_; }

 private:
  void open_and_preallocate(Direct direct, int simulate_direct_errno);
  void close_and_remove() noexcept;

  std::string path_;
  uint64_t bytes_ = 0;
  int fd_ = -1;
  bool direct_ = false;
  bool remove_ = false;  // we created (or truncated) the file: delete it when done
  std::string direct_refusal_;
};

// "1.5 GiB (1610612736 bytes)": sizes in error messages.
std::string describe_bytes(uint64_t bytes);

}  // namespace strata
