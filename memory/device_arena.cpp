// Implements DeviceArena: free ranges indexed by offset (for coalescing) and by (size, offset) (for best fit),
// live allocations by offset (to validate frees). All state behind one mutex.
#include "memory/device_arena.h"

#include <cstdio>

#include "core/check.h"
#include "memory/memory_tracker.h"

namespace strata {

namespace {

std::string hex(uintptr_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

DeviceArena::DeviceArena(void* base, size_t capacity) : base_(reinterpret_cast<uintptr_t>(base)), capacity_(capacity) {
  STRATA_CHECK(base_ % kGranularity == 0,
               "device arena base " + hex(base_) + " is not " + std::to_string(kGranularity) +
                   "-byte aligned: pass the pointer cudaMalloc returned");
  STRATA_CHECK(capacity_ % kGranularity == 0,
               "device arena capacity " + std::to_string(capacity_) + " is not a multiple of " +
                   std::to_string(kGranularity) + " bytes: round it down before creating the arena");
  STRATA_CHECK(capacity_ <= UINTPTR_MAX - base_,
               "device arena range at " + hex(base_) + " with capacity " + std::to_string(capacity_) +
                   " wraps around the address space");
  if (capacity_ > 0) insert_free(0, capacity_);
}

void DeviceArena::insert_free(size_t offset, size_t size) {
  free_by_offset_.emplace(offset, size);
  free_by_size_.emplace(size, offset);
}

void DeviceArena::erase_free(std::map<size_t, size_t>::iterator it) {
  free_by_size_.erase({it->second, it->first});
  free_by_offset_.erase(it);
}

std::string DeviceArena::range_text() const {
  std::string text = "[";  // appended piece by piece: GCC 12's -Wrestrict misfires on "[" + std::string at -O3
  text += hex(base_);
  text += ", ";
  text += hex(base_ + capacity_);
  text += ")";
  return text;
}

void* DeviceArena::allocate(size_t bytes, size_t alignment) {
  STRATA_CHECK(alignment > 0 && (alignment & (alignment - 1)) == 0,
               "device arena: alignment must be a power of two, got " + std::to_string(alignment));
  if (bytes == 0 || bytes > capacity_) return nullptr;
  const size_t size = (bytes + kGranularity - 1) / kGranularity * kGranularity;
  const size_t align = alignment < kGranularity ? kGranularity : alignment;

  std::lock_guard lock(mu_);
  // Ranges in increasing size (then offset): the first one that holds the aligned block is the best fit.
  for (auto it = free_by_size_.lower_bound({size, 0}); it != free_by_size_.end(); ++it) {
    const auto [range_size, range_off] = *it;
    const uintptr_t start = base_ + range_off;
    const uintptr_t aligned = (start + (align - 1)) & ~static_cast<uintptr_t>(align - 1);
    if (aligned < start) continue;  // alignment overflowed the address space
    const size_t pad = static_cast<size_t>(aligned - start);
    if (pad > range_size || range_size - pad < size) continue;

    erase_free(free_by_offset_.find(range_off));
    if (pad > 0) insert_free(range_off, pad);
    const size_t off = range_off + pad;
    const size_t tail = range_size - pad - size;
    if (tail > 0) insert_free(off + size, tail);
    live_.emplace(off, size);
    used_ += size;
    if (used_ > peak_) peak_ = used_;
    return reinterpret_cast<void*>(aligned);
  }
  return nullptr;
}

void DeviceArena::free(void* p) {
  if (p == nullptr) return;
  const uintptr_t addr = reinterpret_cast<uintptr_t>(p);
  std::lock_guard lock(mu_);
  const auto live = (addr >= base_ && addr < base_ + capacity_) ? live_.find(addr - base_) : live_.end();
  STRATA_CHECK(live != live_.end(),
               "device arena: free of " + hex(addr) + ", which is not a live allocation of the arena " + range_text() +
                   " (double free, a pointer into the middle of an allocation, or memory from another allocator)");
  size_t off = live->first;
  size_t size = live->second;
  live_.erase(live);
  used_ -= size;

  // Merge with the free neighbours so free ranges never touch.
  auto next = free_by_offset_.lower_bound(off);
  if (next != free_by_offset_.end() && next->first == off + size) {
    size += next->second;
    erase_free(next);
  }
  auto prev = free_by_offset_.lower_bound(off);
  if (prev != free_by_offset_.begin()) {
    --prev;
    if (prev->first + prev->second == off) {
      off = prev->first;
      size += prev->second;
      erase_free(prev);
    }
  }
  insert_free(off, size);
}

size_t DeviceArena::used() const {
  std::lock_guard lock(mu_);
  return used_;
}
size_t DeviceArena::peak_used() const {
  std::lock_guard lock(mu_);
  return peak_;
}
size_t DeviceArena::largest_free() const {
  std::lock_guard lock(mu_);
  return free_by_size_.empty() ? 0 : free_by_size_.rbegin()->first;
}
size_t DeviceArena::free_ranges() const {
  std::lock_guard lock(mu_);
  return free_by_offset_.size();
}
size_t DeviceArena::size_of(const void* p) const {
  const uintptr_t addr = reinterpret_cast<uintptr_t>(p);
  std::lock_guard lock(mu_);
  const auto live = (addr >= base_ && addr < base_ + capacity_) ? live_.find(addr - base_) : live_.end();
  STRATA_CHECK(live != live_.end(), "device arena: " + hex(addr) + " is not a live allocation of the arena " +
                                        range_text());
  return live->second;
}

size_t DeviceArena::live_allocations() const {
  std::lock_guard lock(mu_);
  return live_.size();
}

std::string DeviceArena::describe() const {
  std::lock_guard lock(mu_);
  const size_t largest = free_by_size_.empty() ? 0 : free_by_size_.rbegin()->first;
  const size_t n = free_by_offset_.size();
  return "arena " + format_bytes(capacity_) + ": " + format_bytes(used_) + " used (peak " + format_bytes(peak_) +
         "), largest free range " + format_bytes(largest) + " in " + std::to_string(n) +
         (n == 1 ? " range" : " ranges");
}

}  // namespace strata
