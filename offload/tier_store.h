// TierStore: where frozen layer blobs live when they are not on the device: pinned host memory or a preallocated
// file on disk (io_uring + O_DIRECT, or a pread/pwrite thread pool). Reads and writes are asynchronous (tickets),
// every blob carries an XXH3-64 checksum, and a mismatch names the layer, the file and the byte offset.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/enum_names.h"

namespace strata {

class Backend;

enum class VerifyPolicy { First, Always, Never };  // checksum check on the first read after a write / every / none
constexpr std::array<EnumName<VerifyPolicy>, 3> enum_names(VerifyPolicy) {
  return {{{VerifyPolicy::First, "first"}, {VerifyPolicy::Always, "always"}, {VerifyPolicy::Never, "never"}}};
}
enum class DiskIo { Auto, Uring, Pread };  // Auto: io_uring + O_DIRECT when available, else pread
constexpr std::array<EnumName<DiskIo>, 3> enum_names(DiskIo) {
  return {{{DiskIo::Auto, "auto"}, {DiskIo::Uring, "uring"}, {DiskIo::Pread, "pread"}}};
}

struct TierStats {
  uint64_t bytes_read = 0, bytes_written = 0;
  uint64_t reads = 0, writes = 0;
  double read_busy_seconds = 0;  // sum over reads of (completion - submission)
};

// An outstanding read or write. 0 is never a valid ticket.
using Ticket = uint64_t;

class TierStore {
 public:
  virtual ~TierStore() = default;
  // "host", "disk (io_uring, O_DIRECT)", "disk (pread)"...
  virtual std::string name() const = 0;
  int num_blobs() const { return n_blobs_; }
  size_t blob_bytes() const { return blob_bytes_; }  // a multiple of 4096

  // Starts writing blob `id` (blob_bytes() bytes from `src`, 4096-byte aligned, valid until the write completes).
  // The blob's checksum is computed from `src` at submission.
  virtual Ticket write(int id, const void* src) = 0;
  // Starts reading blob `id` into `dst` (blob_bytes() bytes, 4096-byte aligned). Reading a blob never written is
  // an error naming the blob.
  virtual Ticket read(int id, void* dst) = 0;
  // True once the operation has completed (successfully or not); never blocks.
  virtual bool poll(Ticket t) = 0;
  // Blocks until the operation completes. Throws StrataError on an I/O error or a checksum mismatch (for reads,
  // per the VerifyPolicy): "<layer name>: checksum mismatch in <file> at byte offset N ...".
  virtual void wait(Ticket t) = 0;
  virtual TierStats stats() const = 0;
  // Zero-copy access: the blob's bytes where the tier keeps them in host memory (the host tier), checked per the
  // VerifyPolicy like a read; null when the tier must copy (disk). Valid until the blob is next written.
  virtual const void* map(int id) = 0;

 protected:
  TierStore(int n_blobs, size_t blob_bytes) : n_blobs_(n_blobs), blob_bytes_(blob_bytes) {}
  int n_blobs_;
  size_t blob_bytes_;
};

// Names blobs in error messages ("block 17"); defaults to "blob <id>".
using BlobNamer = std::function<std::string(int id)>;
using Warn = std::function<void(const std::string&)>;

// Pinned host memory (HostPinned kind of `backend`, accounted under MemoryCategory::Weights: the blobs are frozen
// weights), copies done by a worker thread so reads overlap compute.
std::unique_ptr<TierStore> make_host_tier(Backend& backend, int n_blobs, size_t blob_bytes, VerifyPolicy verify,
                                          BlobNamer namer = {});

// A file at `path` preallocated (fallocate) to n_blobs * blob_bytes before returning: ENOSPC is an error here,
// naming the path, the size and the free space. io: Auto tries io_uring with O_DIRECT and falls back to a pread
// thread pool (one `warn` line says why: io_uring refused, O_DIRECT unsupported by the file system...); Uring
// fails instead of falling back; Pread forces the fallback. The file is removed when the store is destroyed.
std::unique_ptr<TierStore> make_disk_tier(const std::string& path, int n_blobs, size_t blob_bytes, VerifyPolicy verify,
                                          DiskIo io, Warn warn = {}, BlobNamer namer = {});

}  // namespace strata
