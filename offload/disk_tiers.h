// Disk tier internals: the two I/O engines behind make_disk_tier (io_uring, pread thread pool), the io_uring probe,
// and the refusals that tests can simulate to exercise the fallbacks on machines where everything works.
#pragma once
#include <memory>
#include <string>

#include "offload/scratch_file.h"
#include "offload/tier_store.h"

namespace strata {

// Refusals to simulate (errno values; 0 = none): io_uring_queue_init, the O_DIRECT open of the file.
struct DiskRefusals {
  int io_uring = 0;
  int o_direct = 0;
};

// 0 when an io_uring can be set up here, else the (positive) errno io_uring_queue_init returned.
int probe_io_uring();

// The remedy in checksum errors of disk tiers.
inline constexpr char kDiskCorruptionRemedy[] = "the offload file is corrupted — delete it and restart the run";

std::unique_ptr<TierStore> make_uring_tier(ScratchFile file, int n_blobs, size_t blob_bytes, VerifyPolicy verify,
                                           BlobNamer namer);
std::unique_ptr<TierStore> make_pread_tier(ScratchFile file, int n_blobs, size_t blob_bytes, VerifyPolicy verify,
                                           BlobNamer namer);

// make_disk_tier with simulated refusals.
std::unique_ptr<TierStore> make_disk_tier_with(const DiskRefusals& refusals, const std::string& path, int n_blobs,
                                               size_t blob_bytes, VerifyPolicy verify, DiskIo io, Warn warn,
                                               BlobNamer namer);

}  // namespace strata
