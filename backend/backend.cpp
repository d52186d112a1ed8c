// Backend base-class plumbing shared by every backend: accounted allocation, RAII stream/event/buffer release,
// and the blocking copy helper.
#include "backend/backend.h"

#include <utility>

#include "core/check.h"

namespace strata {

Buffer Backend::alloc(MemoryKind kind, size_t bytes, MemoryCategory category, size_t alignment) {
  STRATA_CHECK(alignment > 0 && (alignment & (alignment - 1)) == 0,
               "allocation alignment must be a power of two, got " + std::to_string(alignment));
  const size_t rounded = (bytes + alignment - 1) / alignment * alignment;
  if (rounded == 0) return Buffer();
  memory_.on_alloc(kind, category, rounded);  // throws (naming the category) when over budget
  void* p = nullptr;
  try {
    p = raw_alloc(kind, rounded, alignment);
  } catch (...) {
    memory_.on_free(kind, category, rounded);
    throw;
  }
  if (!p) {
    memory_.on_free(kind, category, rounded);
    STRATA_USER_FAIL(name() + ": out of " + to_string(kind) + " memory allocating " + format_bytes(rounded) + " for " +
                     to_string(category) + "; free memory on this machine or make the run need less (e.g. a " +
                     "smaller train.micro_batch or data.seq_len)");
  }
  return Buffer(this, p, rounded, kind, category);
}

void Backend::release(const Buffer& b) {
  raw_free(b.kind(), b.data());
  memory_.on_free(b.kind(), b.category(), b.bytes());
}

void Buffer::reset() {
  if (backend_ && ptr_) backend_->release(*this);
  backend_ = nullptr;
  ptr_ = nullptr;
  bytes_ = 0;
}

Stream Backend::create_stream() { return Stream(this, raw_create_stream()); }
Event Backend::create_event() { return Event(this, raw_create_event()); }

void Backend::copy(void* dst, const void* src, size_t bytes) {
  copy_async(dst, src, bytes, compute_stream_);
  stream_synchronize(compute_stream_);
}

Stream& Stream::operator=(Stream&& o) noexcept {
  if (this != &o) {
    if (backend_ && handle_) backend_->raw_destroy_stream(handle_);
    backend_ = std::exchange(o.backend_, nullptr);
    handle_ = std::exchange(o.handle_, nullptr);
  }
  return *this;
}
Stream::~Stream() {
  if (backend_ && handle_) backend_->raw_destroy_stream(handle_);
}

Event& Event::operator=(Event&& o) noexcept {
  if (this != &o) {
    if (backend_ && handle_) backend_->raw_destroy_event(handle_);
    backend_ = std::exchange(o.backend_, nullptr);
    handle_ = std::exchange(o.handle_, nullptr);
  }
  return *this;
}
Event::~Event() {
  if (backend_ && handle_) backend_->raw_destroy_event(handle_);
}

}  // namespace strata
