// DeviceArena: a best-fit sub-allocator over one caller-provided address range [base, base + capacity).
// Never allocates, frees or dereferences the range itself (the CUDA backend backs it with one cudaMalloc). Thread-safe.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>

namespace strata {

class DeviceArena {
 public:
  // Every allocation starts on a multiple of this (relative to address 0) and its size is rounded up to it.
  static constexpr size_t kGranularity = 256;

  // `base` must be kGranularity-aligned and `capacity` a multiple of kGranularity (cudaMalloc gives both).
  DeviceArena(void* base, size_t capacity);
  DeviceArena(const DeviceArena&) = delete;
  DeviceArena& operator=(const DeviceArena&) = delete;

  // Best fit: the smallest free range that holds `bytes` (rounded up to kGranularity) at an address aligned to
  // max(alignment, kGranularity); ties go to the lowest address. Returns nullptr when no free range fits or bytes
  // is 0; throws StrataError only when `alignment` is not a power of two.
  void* allocate(size_t bytes, size_t alignment = kGranularity);
  // Returns a live allocation's range, merged with its free neighbours. nullptr is a no-op; any other pointer that
  // is not a live allocation (double free, interior or foreign pointer) throws StrataError naming it.
  void free(void* p);

  void* base() const { return reinterpret_cast<void*>(base_); }
  size_t capacity() const { return capacity_; }
  size_t used() const;           // bytes in live allocations (rounded sizes; alignment padding stays free)
  size_t peak_used() const;      // highest used() so far
  size_t largest_free() const;   // size of the largest free range (0 when full)
  size_t free_ranges() const;    // number of disjoint free ranges
  size_t live_allocations() const;
  // The (rounded) size of the live allocation at `p`; throws when `p` is not one.
  size_t size_of(const void* p) const;
  // One line, e.g. "arena 40.0 GiB: 12.5 GiB used (peak 20.1 GiB), largest free range 20.0 GiB in 3 ranges".
  std::string describe() const;

 private:
  void insert_free(size_t offset, size_t size);
  void erase_free(std::map<size_t, size_t>::iterator it);
  std::string range_text() const;  // "[0x..., 0x...)"

  const uintptr_t base_;
  const size_t capacity_;
  mutable std::mutex mu_;
  std::map<size_t, size_t> free_by_offset_;         // offset -> size of each free range (disjoint, never adjacent)
  std::set<std::pair<size_t, size_t>> free_by_size_;  // (size, offset): the same ranges, for best fit
  std::map<size_t, size_t> live_;                   // offset -> size of each live allocation
  size_t used_ = 0;
  size_t peak_ = 0;
};

}  // namespace strata
