// MemoryTracker implementation and the names of memory kinds and categories.
// Budgets are enforced here so every backend (CPU included) exercises the same accounting path.
#include "memory/memory_tracker.h"

#include <cstdio>

#include "core/check.h"

namespace strata {

const char* to_string(MemoryKind kind) {
  switch (kind) {
    case MemoryKind::Device: return "device";
    case MemoryKind::HostPinned: return "host_pinned";
    case MemoryKind::Host: return "host";
  }
  return "?";
}

const char* to_string(MemoryCategory c) {
  switch (c) {
    case MemoryCategory::Weights: return "weights";
    case MemoryCategory::MasterWeights: return "master_weights";
    case MemoryCategory::Grads: return "grads";
    case MemoryCategory::OptimizerState: return "optimizer_state";
    case MemoryCategory::Activations: return "activations";
    case MemoryCategory::Workspace: return "workspace";
    case MemoryCategory::Streaming: return "streaming";
    case MemoryCategory::KvCache: return "kv_cache";
    case MemoryCategory::Other: return "other";
  }
  return "?";
}

std::string format_bytes(size_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024.0 && u < 4) {
    v /= 1024.0;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

namespace {
// The run config key that sets the budget of `kind`.
const char* budget_key(MemoryKind kind) {
  return kind == MemoryKind::Device ? "memory.device_budget" : "memory.host_budget";
}
}  // namespace

void MemoryTracker::set_budget(MemoryKind kind, size_t bytes) {
  std::lock_guard lock(mu_);
  const int k = static_cast<int>(kind);
  STRATA_USER_CHECK(s_.kind_current[k] <= bytes, std::string("cannot set the ") + to_string(kind) + " budget to " +
                                                     format_bytes(bytes) + ": " + format_bytes(s_.kind_current[k]) +
                                                     " are already allocated; set a larger " + budget_key(kind));
  budget_[k] = bytes;
}

size_t MemoryTracker::budget(MemoryKind kind) const {
  std::lock_guard lock(mu_);
  return budget_[static_cast<int>(kind)];
}

void MemoryTracker::set_observer(std::function<void(const MemorySnapshot&)> observer) {
  std::lock_guard lock(mu_);
  observer_ = std::move(observer);
}

void MemoryTracker::on_alloc(MemoryKind kind, MemoryCategory category, size_t bytes) {
  record_alloc(kind, category, bytes);
  notify();
}

void MemoryTracker::on_free(MemoryKind kind, MemoryCategory category, size_t bytes) {
  record_free(kind, category, bytes);
  notify();
}

void MemoryTracker::notify() {
  std::function<void(const MemorySnapshot&)> obs;
  MemorySnapshot snap;
  {
    std::lock_guard lock(mu_);
    if (!observer_) return;
    obs = observer_;
    snap = s_;
  }
  obs(snap);
}

void MemoryTracker::record_alloc(MemoryKind kind, MemoryCategory category, size_t bytes) {
  std::lock_guard lock(mu_);
  const int k = static_cast<int>(kind), c = static_cast<int>(category);
  if (budget_[k] != kUnlimited && s_.kind_current[k] + bytes > budget_[k]) {
    STRATA_USER_FAIL(std::string(to_string(kind)) + " budget exceeded: " + to_string(category) + " asked for " +
                     format_bytes(bytes) + " with " + format_bytes(s_.kind_current[k]) + " of " +
                     format_bytes(budget_[k]) + " in use; raise the " + to_string(kind) + " budget (" +
                     budget_key(kind) + ") or reduce what the run keeps there");
  }
  s_.current[k][c] += bytes;
  s_.kind_current[k] += bytes;
  if (s_.current[k][c] > s_.peak[k][c]) s_.peak[k][c] = s_.current[k][c];
  if (s_.kind_current[k] > s_.kind_peak[k]) s_.kind_peak[k] = s_.kind_current[k];
}

void MemoryTracker::record_free(MemoryKind kind, MemoryCategory category, size_t bytes) {
  std::lock_guard lock(mu_);
  const int k = static_cast<int>(kind), c = static_cast<int>(category);
  STRATA_CHECK(s_.current[k][c] >= bytes, std::string("memory accounting underflow in ") + to_string(kind) + "/" +
                                              to_string(category) + " (freeing more than was allocated)");
  s_.current[k][c] -= bytes;
  s_.kind_current[k] -= bytes;
}

size_t MemoryTracker::current(MemoryKind kind) const {
  std::lock_guard lock(mu_);
  return s_.kind_current[static_cast<int>(kind)];
}

size_t MemoryTracker::peak(MemoryKind kind) const {
  std::lock_guard lock(mu_);
  return s_.kind_peak[static_cast<int>(kind)];
}

size_t MemoryTracker::current(MemoryKind kind, MemoryCategory category) const {
  std::lock_guard lock(mu_);
  return s_.current[static_cast<int>(kind)][static_cast<int>(category)];
}

MemorySnapshot MemoryTracker::snapshot() const {
  std::lock_guard lock(mu_);
  return s_;
}

void MemoryTracker::reset_peaks() {
  std::lock_guard lock(mu_);
  s_.peak = s_.current;
  s_.kind_peak = s_.kind_current;
}

std::string MemoryTracker::summary() const {
  const MemorySnapshot s = snapshot();
  std::string out;
  for (int k = 0; k < kNumMemoryKinds; ++k) {
    if (s.kind_peak[k] == 0) continue;
    out += std::string(to_string(static_cast<MemoryKind>(k))) + ": " + format_bytes(s.kind_current[k]) + " (peak " +
           format_bytes(s.kind_peak[k]) + ")";
    for (int c = 0; c < kNumMemoryCategories; ++c) {
      if (s.current[k][c] == 0) continue;
      out += std::string(" ") + to_string(static_cast<MemoryCategory>(c)) + " " + format_bytes(s.current[k][c]);
    }
    out += "\n";
  }
  return out;
}

}  // namespace strata
