// check_free_disk: the run folder's need (the checkpoints kept) and the disk-tier file's need against the free bytes
// of their file systems (statvfs), added up when both live on one file system.
#include "engine/disk_space.h"

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <vector>

#include "core/check.h"
#include "offload/scratch_file.h"

namespace strata {

namespace fs = std::filesystem;

namespace {

// The folder when it exists, else its nearest existing ancestor (where it will be created).
fs::path existing_folder(const fs::path& p) {
  std::error_code ec;
  fs::path d = fs::absolute(p, ec);
  if (ec) d = p;
  while (!d.empty() && !fs::is_directory(d, ec) && d != d.parent_path()) d = d.parent_path();
  return d.empty() ? fs::path(".") : d;
}

// The id of the file system holding an existing folder (st_dev); -1 when stat fails.
long long file_system_of(const fs::path& dir) {
  struct stat st {};
  return ::stat(dir.c_str(), &st) == 0 ? (long long)st.st_dev : -1;
}

// What the run writes on one file system, with the words that name it in an error.
struct Need {
  fs::path folder;  // an existing folder on that file system
  uint64_t tier = 0, checkpoints = 0;
  uint64_t total() const { return tier + checkpoints; }
};

}  // namespace

uint64_t free_disk_bytes(const std::string& dir) {
  struct statvfs v {};
  if (::statvfs(dir.c_str(), &v) != 0) return UINT64_MAX;
  return (uint64_t)v.f_bavail * (uint64_t)v.f_frsize;
}

CheckpointsOnDisk checkpoints_on_disk(const std::string& run_dir) {
  CheckpointsOnDisk c;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(fs::path(run_dir) / "checkpoints", ec)) {
    const std::string n = e.path().filename().string();
    if (!e.is_directory(ec) || n.rfind("step_", 0) != 0 || n.find('.') != std::string::npos) continue;
    ++c.count;
    for (const auto& f : fs::recursive_directory_iterator(e.path(), ec))
      if (f.is_regular_file(ec)) c.bytes += f.file_size(ec);
  }
  return c;
}

void check_free_disk(const Plan& plan, const std::string& run_dir, const std::string& disk_tier_path, bool resuming,
                     const FreeBytesQuery& free_bytes) {
  const std::string tier_path =
      disk_tier_path.empty() ? (fs::path(run_dir) / "offload.bin").string() : disk_tier_path;
  const std::string ckpt_dir = (fs::path(run_dir) / "checkpoints").string();
  const uint64_t one = plan.checkpoint_bytes;
  const uint64_t tier = plan.peak[kDiskTier];

  // The checkpoints: keep + 1 at once (fewer for a short run). A resumed run's own checkpoints are already on disk,
  // so it needs what its peak adds to them: at least one new checkpoint, written before any old one is deleted.
  uint64_t ckpt = (uint64_t)plan.checkpoints_on_disk * one;
  std::string ckpt_words = std::to_string(plan.checkpoints_on_disk) + " checkpoint(s) x " + describe_bytes(one) +
                           " in " + ckpt_dir + " (output.keep_checkpoints = " +
                           std::to_string(plan.keep_checkpoints) + ", one more while the newest is written)";
  if (resuming) {
    const CheckpointsOnDisk have = checkpoints_on_disk(run_dir);
    const long long at_once =
        std::min<long long>((long long)plan.keep_checkpoints + 1, (long long)have.count + plan.checkpoints_on_disk);
    const uint64_t peak = (uint64_t)std::max<long long>(at_once, 1) * one;
    ckpt = std::max<uint64_t>(one, peak > have.bytes ? peak - have.bytes : 0);
    ckpt_words = "new checkpoints in " + ckpt_dir + ": up to " + std::to_string(at_once) + " x " +
                 describe_bytes(one) + " at once, less the " + describe_bytes(have.bytes) + " of the " +
                 std::to_string(have.count) + " already there (output.keep_checkpoints = " +
                 std::to_string(plan.keep_checkpoints) + ")";
  }

  const fs::path run_fs = existing_folder(run_dir), tier_fs = existing_folder(fs::path(tier_path).parent_path());
  const long long run_id = file_system_of(run_fs), tier_id = file_system_of(tier_fs);
  std::vector<Need> needs;
  needs.push_back({run_fs, 0, ckpt});
  if (tier > 0) {
    if (run_id >= 0 && run_id == tier_id) needs[0].tier = tier;
    else needs.push_back({tier_fs, tier, 0});
  }

  std::string problems;
  bool short_for_tier = false, short_for_checkpoints = false;
  for (const Need& n : needs) {
    if (n.total() == 0) continue;
    const uint64_t free = free_bytes ? free_bytes(n.folder.string()) : free_disk_bytes(n.folder.string());
    if (n.total() <= free) continue;
    std::string parts;
    if (n.tier) parts += "the disk-tier file " + tier_path + ": " + describe_bytes(n.tier);
    if (n.checkpoints) parts += (parts.empty() ? "" : "; ") + ckpt_words;
    problems += (problems.empty() ? "" : "; and ") + n.folder.string() + " is on a file system with " +
                describe_bytes(free) + " free, but the run needs " + describe_bytes(n.total()) + " there (" +
                parts + ")";
    short_for_tier = short_for_tier || n.tier > 0;
    short_for_checkpoints = short_for_checkpoints || n.checkpoints > 0;
  }
  if (problems.empty()) return;
  std::string what;
  auto add = [&what](const std::string& s) { what += (what.empty() ? "" : ", ") + s; };
  if (short_for_checkpoints && plan.keep_checkpoints > 1) add("lower output.keep_checkpoints");
  if (short_for_checkpoints) add("put output.dir on a disk with more room");
  if (short_for_tier) {
    add("put memory.disk_path on a disk with more room");
    add("set memory.frozen_tier = \"host\" (frozen blocks in host memory, no tier file)");
  }
  STRATA_USER_FAIL("not enough free disk space for this run: " + problems + "; free some space, or " + what);
}

}  // namespace strata
