// Byte accounting per (memory kind, category): current and peak, plus a per-kind budget.
// Thread-safe; owned by a Backend (no global state). Exceeding a budget throws naming the category and size.
#pragma once
#include <array>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>

#include "memory/memory_kind.h"

namespace strata {

struct MemorySnapshot {
  // [kind][category] bytes
  std::array<std::array<size_t, kNumMemoryCategories>, kNumMemoryKinds> current{};
  std::array<std::array<size_t, kNumMemoryCategories>, kNumMemoryKinds> peak{};
  std::array<size_t, kNumMemoryKinds> kind_current{};
  std::array<size_t, kNumMemoryKinds> kind_peak{};
};

class MemoryTracker {
 public:
  static constexpr size_t kUnlimited = ~size_t{0};

  // Budget for a kind (kUnlimited by default). Throws if the current usage already exceeds it.
  void set_budget(MemoryKind kind, size_t bytes);
  size_t budget(MemoryKind kind) const;

  // Records an allocation; throws StrataError (and records nothing) if it would exceed the kind's budget.
  void on_alloc(MemoryKind kind, MemoryCategory category, size_t bytes);
  void on_free(MemoryKind kind, MemoryCategory category, size_t bytes);

  // Called with a snapshot after every allocation and free (profiling sessions); empty function = none.
  void set_observer(std::function<void(const MemorySnapshot&)> observer);

  size_t current(MemoryKind kind) const;
  size_t peak(MemoryKind kind) const;
  size_t current(MemoryKind kind, MemoryCategory category) const;
  MemorySnapshot snapshot() const;
  void reset_peaks();

  // One line per kind with non-zero usage, e.g. "device: 12.0 MiB (peak 14.0 MiB) weights 8.0 MiB, ...".
  std::string summary() const;

 private:
  void record_alloc(MemoryKind kind, MemoryCategory category, size_t bytes);
  void record_free(MemoryKind kind, MemoryCategory category, size_t bytes);
  void notify();

  mutable std::mutex mu_;
  MemorySnapshot s_;
  std::array<size_t, kNumMemoryKinds> budget_{kUnlimited, kUnlimited, kUnlimited};
  std::function<void(const MemorySnapshot&)> observer_;
};

std::string format_bytes(size_t bytes);

}  // namespace strata
