// The free-disk check before step 1: the file systems of the run folder and of the disk-tier file must hold what the
// plan says the run writes there (the tier file, the checkpoints it keeps), so a full disk fails now, not mid-run.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "plan/planner.h"

namespace strata {

// Bytes an unprivileged writer can still write on the file system holding the existing folder `dir`.
using FreeBytesQuery = std::function<uint64_t(const std::string& dir)>;
// statvfs: f_bavail x f_frsize; UINT64_MAX (no limit known) when the file system cannot say.
uint64_t free_disk_bytes(const std::string& dir);

// The complete checkpoints (step_* folders) in <run_dir>/checkpoints: how many, and the bytes of their files.
struct CheckpointsOnDisk {
  int count = 0;
  uint64_t bytes = 0;
};
CheckpointsOnDisk checkpoints_on_disk(const std::string& run_dir);

// Throws a UserError naming the folder, the bytes needed (tier file, checkpoints), the bytes free and what to change
// when the file system of `run_dir` (checkpoints) or of `disk_tier_path` (the tier file; empty: <run_dir>/offload.bin)
// has less free space than the run needs there; on one file system both needs add up. `resuming`: the run's
// checkpoints already on disk count as used, so only the space the new ones add is needed. `free_bytes` replaces
// the statvfs query (tests).
void check_free_disk(const Plan& plan, const std::string& run_dir, const std::string& disk_tier_path, bool resuming,
                     const FreeBytesQuery& free_bytes = {});

}  // namespace strata
