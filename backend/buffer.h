// Buffer: move-only RAII handle to one backend allocation (pointer, size, memory kind, accounting category).
// Freed through the backend that made it, which also updates the memory accounting.
#pragma once
#include <cstddef>

#include "memory/memory_kind.h"

namespace strata {

class Backend;

class Buffer {
 public:
  Buffer() = default;
  Buffer(Backend* backend, void* ptr, size_t bytes, MemoryKind kind, MemoryCategory category)
      : backend_(backend), ptr_(ptr), bytes_(bytes), kind_(kind), category_(category) {}
  Buffer(Buffer&& o) noexcept { *this = static_cast<Buffer&&>(o); }
  Buffer& operator=(Buffer&& o) noexcept {
    if (this != &o) {
      reset();
      backend_ = o.backend_;
      ptr_ = o.ptr_;
      bytes_ = o.bytes_;
      kind_ = o.kind_;
      category_ = o.category_;
      o.backend_ = nullptr;
      o.ptr_ = nullptr;
      o.bytes_ = 0;
    }
    return *this;
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() { reset(); }

  void reset();
  void* data() const { return ptr_; }
  template <class T>
  T* as() const { return static_cast<T*>(ptr_); }
  size_t bytes() const { return bytes_; }
  MemoryKind kind() const { return kind_; }
  MemoryCategory category() const { return category_; }
  explicit operator bool() const { return ptr_ != nullptr; }

 private:
  Backend* backend_ = nullptr;
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
  MemoryKind kind_ = MemoryKind::Host;
  MemoryCategory category_ = MemoryCategory::Other;
};

}  // namespace strata
