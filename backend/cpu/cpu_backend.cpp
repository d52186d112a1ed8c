// CpuBackend memory and synchronisation: mimalloc aligned allocations for every kind, synchronous copies,
// trivially complete events (every op has finished when its call returns).
#include "backend/cpu/cpu_backend.h"

#include <mimalloc.h>

#include <cstring>

namespace strata {

CpuBackend::CpuBackend() : CpuBackend(kBf16AttentionChunkBytes) {}
CpuBackend::CpuBackend(size_t attention_chunk_bytes) : attention_chunk_bytes_(attention_chunk_bytes) {
  init_compute_stream();
}
CpuBackend::~CpuBackend() { destroy_compute_stream(); }

BackendCaps CpuBackend::caps() const {
  BackendCaps c;
  c.async = false;
  c.events = false;
  c.pinned_host = false;
  c.device_is_host = true;
  return c;
}

void* CpuBackend::raw_alloc(MemoryKind, size_t bytes, size_t alignment) {
  return mi_malloc_aligned(bytes, alignment);
}

void CpuBackend::raw_free(MemoryKind, void* ptr) { mi_free(ptr); }

void CpuBackend::copy_async(void* dst, const void* src, size_t bytes, Stream&) {
  if (bytes) std::memcpy(dst, src, bytes);
}
void CpuBackend::record(Event&, Stream&) {}
void CpuBackend::stream_wait(Stream&, Event&) {}
void CpuBackend::event_synchronize(Event&) {}
bool CpuBackend::event_query(Event&) { return true; }
void CpuBackend::stream_synchronize(Stream&) {}
void CpuBackend::synchronize() {}

void CpuBackend::fill_zero(void* ptr, size_t bytes) {
  if (bytes) std::memset(ptr, 0, bytes);
}

}  // namespace strata
