// TierStore config helpers: parsing the verify policy and the disk I/O engine from config strings.
// The tiers themselves live in host_tier.cpp, disk_tier.cpp, disk_tier_uring.cpp and disk_tier_pread.cpp.
#include "offload/tier_store.h"

#include "core/check.h"

namespace strata {

VerifyPolicy parse_verify_policy(const std::string& s, const std::string& what) {
  if (s == "first") return VerifyPolicy::First;
  if (s == "always") return VerifyPolicy::Always;
  if (s == "never") return VerifyPolicy::Never;
  STRATA_FAIL(what + ": '" + s + "' is not one of first, always, never");
}

DiskIo parse_disk_io(const std::string& s, const std::string& what) {
  if (s == "auto") return DiskIo::Auto;
  if (s == "io_uring" || s == "uring") return DiskIo::Uring;
  if (s == "pread") return DiskIo::Pread;
  STRATA_FAIL(what + ": '" + s + "' is not one of auto, io_uring, pread");
}

}  // namespace strata
