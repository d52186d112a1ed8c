// make_disk_tier: picks the disk engine (io_uring + O_DIRECT, or the pread thread pool) from what this machine and
// file system allow, falling back with one warning line in auto mode and failing clearly when a mode is forced.
#include <cstdio>
#include <cstring>

#include "core/check.h"
#include "offload/disk_tiers.h"

namespace strata {

std::unique_ptr<TierStore> make_disk_tier_with(const DiskRefusals& refusals, const std::string& path, int n_blobs,
                                               size_t blob_bytes, VerifyPolicy verify, DiskIo io, Warn warn,
                                               BlobNamer namer) {
  STRATA_CHECK(n_blobs > 0, path + ": a disk tier needs at least one blob (got " + std::to_string(n_blobs) + ")");
  STRATA_CHECK(blob_bytes > 0 && blob_bytes % 4096 == 0,
               path + ": the blob size must be a positive multiple of 4096 bytes for O_DIRECT (got " +
                   std::to_string(blob_bytes) + "); pad layer blobs to 4 KiB");
  const uint64_t bytes = static_cast<uint64_t>(n_blobs) * blob_bytes;
  if (!warn) warn = [](const std::string& m) { std::fprintf(stderr, "strata: warning: %s\n", m.c_str()); };

  if (io == DiskIo::Pread) {
    return make_pread_tier(ScratchFile(path, bytes, ScratchFile::Direct::IfSupported, refusals.o_direct), n_blobs,
                           blob_bytes, verify, std::move(namer));
  }
  const int uring_errno = refusals.io_uring != 0 ? refusals.io_uring : probe_io_uring();
  if (io == DiskIo::Uring) {
    STRATA_USER_CHECK(uring_errno == 0, "io_uring unavailable (" + std::string(std::strerror(uring_errno)) +
                                            ") for the offload file " + path +
                                            "; use the pread disk I/O or auto (seccomp or kernel.io_uring_disabled may "
                                            "refuse it)");
    return make_uring_tier(ScratchFile(path, bytes, ScratchFile::Direct::Require, refusals.o_direct), n_blobs,
                           blob_bytes, verify, std::move(namer));
  }

  ScratchFile file(path, bytes, ScratchFile::Direct::IfSupported, refusals.o_direct);
  if (uring_errno != 0) {
    std::string line = "io_uring unavailable (" + std::string(std::strerror(uring_errno)) +
                       "); using the pread thread pool";
    if (!file.direct()) line += " (buffered: O_DIRECT not supported on " + path + ")";
    warn(line);
    return make_pread_tier(std::move(file), n_blobs, blob_bytes, verify, std::move(namer));
  }
  if (!file.direct()) {
    warn("O_DIRECT not supported on " + path + " (" + file.direct_refusal() + "): using buffered pread");
    return make_pread_tier(std::move(file), n_blobs, blob_bytes, verify, std::move(namer));
  }
  return make_uring_tier(std::move(file), n_blobs, blob_bytes, verify, std::move(namer));
}

std::unique_ptr<TierStore> make_disk_tier(const std::string& path, int n_blobs, size_t blob_bytes, VerifyPolicy verify,
                                          DiskIo io, Warn warn, BlobNamer namer) {
  return make_disk_tier_with(DiskRefusals{}, path, n_blobs, blob_bytes, verify, io, std::move(warn), std::move(namer));
}

}  // namespace strata
