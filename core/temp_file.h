// TempFile: a buffered, append-only temp file next to a target path; published atomically (fsync + rename +
// folder fsync) or, when anonymous, unlinked at once and used as scratch space that another TempFile copies in.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace strata {

class TempFile {
 public:
  // Named: "target.tmp-XXXXXX", removed by the destructor unless published. Anonymous: unlinked right away, so
  // nothing is left behind even after a crash. `error_prefix` starts every error ("cannot write token file X").
  TempFile(const std::string& target, bool anonymous, std::string error_prefix);
  ~TempFile();
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  void write(const void* data, size_t n);
  // Direct access to the write buffer (for little-endian encoders); call maybe_flush() after filling it.
  std::vector<unsigned char>& buffer() { return buf_; }
  void maybe_flush() {
    if (buf_.size() >= kFlushBytes) flush();
  }
  uint64_t size() const { return written_ + buf_.size(); }
  // Appends the whole content of `src` (copy_file_range where the file system allows it).
  void append_file(TempFile& src);
  // Flushes, fsyncs and renames the file over the target, then fsyncs the folder. Named files only.
  void publish();

 private:
  static constexpr size_t kFlushBytes = size_t(1) << 20;
  void flush();
  void write_all(const unsigned char* p, size_t size);
  [[noreturn]] void fail(const std::string& what) const;

  std::string target_, tmp_, prefix_;
  int fd_ = -1;
  uint64_t written_ = 0;
  std::vector<unsigned char> buf_;
};

}  // namespace strata
