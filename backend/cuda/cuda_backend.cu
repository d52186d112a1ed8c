// CudaBackend: device memory (one cudaMalloc'd DeviceArena, created on first use), pinned host memory (cudaHostAlloc),
// streams, events, async copies and the backend's own resources (cuBLAS, scratch). Kernels: one cuda_<family>.cu each.
#include <cuda_runtime.h>

#include <algorithm>
#include <string>

#include "backend/backend.h"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_backend_impl.h"
#include "backend/cuda/cuda_check.h"
#include "core/check.h"
#include "memory/device_arena.h"
#include "memory/memory_tracker.h"

namespace strata::STRATA_CUDA_NS {

int cuda_device_count(std::string* why) {
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    if (why) *why = cudaGetErrorString(err);
    cudaGetLastError();  // clear the sticky error so later probes start clean
    return 0;
  }
  if (n == 0 && why) *why = "no CUDA device present";
  return n;
}

CudaBackend::CudaBackend(int device) : device_(device) {
  STRATA_CUDA_CHECK(cudaSetDevice(device_));
  STRATA_CUDA_CHECK(cudaDeviceGetAttribute(&max_threads_per_block_, cudaDevAttrMaxThreadsPerBlock, device_));
  STRATA_CUDA_CHECK(cudaDeviceGetAttribute(&num_sms_, cudaDevAttrMultiProcessorCount, device_));
  int smem = 0;
  STRATA_CUDA_CHECK(cudaDeviceGetAttribute(&smem, cudaDevAttrMaxSharedMemoryPerBlock, device_));
  max_shared_per_block_ = (size_t)smem;
  init_compute_stream();
  STRATA_CUBLAS_CHECK(cublasCreate(&cublas_));
  STRATA_CUBLAS_CHECK(cublasSetStream(cublas_, stream()));
  // Plain fp32 (no TF32 or other reduced-precision paths) for parity with the CPU backend.
  STRATA_CUBLAS_CHECK(cublasSetMathMode(cublas_, CUBLAS_PEDANTIC_MATH));
}

CudaBackend::~CudaBackend() {
  if (compute_stream().handle()) cudaStreamSynchronize(stream());
  if (cublas_) cublasDestroy(cublas_);
  if (cublas_bf16_) cublasDestroy(cublas_bf16_);
  scratch_.reset();  // while this object can still free device memory
  destroy_compute_stream();
  // Last: every Device buffer lives in the arena, so its one cudaFree releases them all.
  arena_.reset();
  if (arena_base_) cudaFree(arena_base_);
}

BackendCaps CudaBackend::caps() const {
  BackendCaps c;
  c.async = true;
  c.events = true;
  c.pinned_host = true;
  c.device_is_host = false;
  return c;
}

bool CudaBackend::supports(OpKind op) const {
  switch (op) {
    case OpKind::Embedding:
    case OpKind::RmsNorm:
    case OpKind::Linear:
    case OpKind::Rope:
    case OpKind::Attention:
    case OpKind::AttentionCached:
    case OpKind::SwiGLU:
    case OpKind::Add:
    case OpKind::CrossEntropy:
    case OpKind::Fill:
    case OpKind::AdamW:
    case OpKind::SumSquares:
    case OpKind::LinearBf16:
    case OpKind::EmbeddingBf16:
    case OpKind::AdamWBf16:
    case OpKind::SumSquaresBf16:
    case OpKind::ConvertBf16: return true;
  }
  return false;
}

void* CudaBackend::scratch(size_t bytes) {
  if (bytes <= scratch_.bytes()) return scratch_.data();
  // Work queued earlier may still read the old scratch.
  if (scratch_) STRATA_CUDA_CHECK(cudaStreamSynchronize(stream()));
  scratch_.reset();
  const size_t rounded = (bytes + ((size_t)1 << 20) - 1) & ~(((size_t)1 << 20) - 1);
  scratch_ = alloc(MemoryKind::Device, rounded, MemoryCategory::Workspace);  // accounted like every other byte
  return scratch_.data();
}

void CudaBackend::copy_async(void* dst, const void* src, size_t bytes, Stream& stream) {
  STRATA_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, as_stream(stream)));
}
void CudaBackend::record(Event& event, Stream& stream) {
  STRATA_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(event.handle()), as_stream(stream)));
}
void CudaBackend::stream_wait(Stream& stream, Event& event) {
  STRATA_CUDA_CHECK(cudaStreamWaitEvent(as_stream(stream), static_cast<cudaEvent_t>(event.handle()), 0));
}
void CudaBackend::event_synchronize(Event& event) {
  STRATA_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(event.handle())));
}
bool CudaBackend::event_query(Event& event) {
  const cudaError_t err = cudaEventQuery(static_cast<cudaEvent_t>(event.handle()));
  if (err == cudaErrorNotReady) return false;
  STRATA_CUDA_CHECK(err);
  return true;
}
void CudaBackend::stream_synchronize(Stream& stream) { STRATA_CUDA_CHECK(cudaStreamSynchronize(as_stream(stream))); }
void CudaBackend::synchronize() { STRATA_CUDA_CHECK(cudaDeviceSynchronize()); }

void CudaBackend::fill_zero(void* ptr, size_t bytes) {
  if (bytes) STRATA_CUDA_CHECK(cudaMemsetAsync(ptr, 0, bytes, stream()));
}

DeviceArena& CudaBackend::device_arena() {
  std::lock_guard lock(arena_mu_);
  if (arena_) return *arena_;
  constexpr size_t kArenaAlign = size_t{2} << 20;
  STRATA_CUDA_CHECK(cudaSetDevice(device_));  // the first Device allocation may come from any thread
  size_t free_bytes = 0, total_bytes = 0;
  STRATA_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  // Left outside the arena: the CUDA context, cuBLAS workspaces and kernels' launch resources.
  const size_t reserve = std::max(size_t{1} << 30, total_bytes / 20);
  const size_t avail = free_bytes > reserve ? (free_bytes - reserve) / kArenaAlign * kArenaAlign : 0;
  const size_t budget = memory().budget(MemoryKind::Device);
  const size_t capacity =
      budget >= avail ? avail : std::min(avail, (budget + kArenaAlign - 1) / kArenaAlign * kArenaAlign);
  const std::string gpu_state = format_bytes(free_bytes) + " of " + format_bytes(total_bytes) + " free, " +
                                format_bytes(reserve) + " kept for the CUDA context, cuBLAS and kernel launches";
  STRATA_USER_CHECK(capacity > 0, name() + ": no device memory left for the device arena (" + gpu_state +
                                      "): stop other processes on this GPU or use one with more memory");
  void* base = nullptr;
  const cudaError_t err = cudaMalloc(&base, capacity);
  if (err != cudaSuccess) {
    cudaGetLastError();
    STRATA_USER_FAIL(name() + ": cudaMalloc of the " + format_bytes(capacity) +
                     " device arena failed: " + cudaGetErrorString(err) + " (" + gpu_state +
                     "): set a smaller memory.device_budget or free the GPU");
  }
  arena_base_ = base;  // the destructor frees it even if the arena cannot be built
  arena_ = std::make_unique<DeviceArena>(base, capacity);
  return *arena_;
}

void* CudaBackend::raw_alloc(MemoryKind kind, size_t bytes, size_t alignment) {
  if (kind == MemoryKind::Device) {
    DeviceArena& arena = device_arena();
    if (void* p = arena.allocate(bytes, alignment)) {
#ifdef STRATA_CUDA_EMULATION
      ::strata::cuda_emu::poison(p, bytes);  // fresh device memory reads as NaN, as an uninitialised GPU buffer may
#endif
      return p;
    }
    const size_t budget = memory().budget(MemoryKind::Device);
    const std::string clamped =
        budget != MemoryTracker::kUnlimited && arena.capacity() < budget
            ? " (smaller than memory.device_budget = " + format_bytes(budget) +
                  ": the GPU had less free memory when the arena was created)"
            : "";
    STRATA_USER_FAIL(name() + " device arena: cannot place " + format_bytes(bytes) + " (largest free range " +
                     format_bytes(arena.largest_free()) + "; arena " + format_bytes(arena.capacity()) + clamped + ", " +
                     format_bytes(arena.used()) +
                     " used): keep less on the device (smaller train.micro_batch, "
                     "memory.activation_checkpointing = true, memory.frozen_tier = \"host\")");
  }
  void* p = nullptr;
  cudaError_t err;
  switch (kind) {
    case MemoryKind::HostPinned: err = cudaHostAlloc(&p, bytes, cudaHostAllocDefault); break;
    default: err = cudaMallocHost(&p, bytes); break;
  }
  if (err != cudaSuccess) {
    cudaGetLastError();
    return nullptr;
  }
  return p;
}
void CudaBackend::raw_free(MemoryKind kind, void* ptr) {
  if (kind != MemoryKind::Device) {
    cudaFreeHost(ptr);
    return;
  }
  // The arena hands the range out again at once, while work queued on any stream may still use it: wait for the
  // device, as cudaFree did implicitly. Device buffers are long-lived (set up once per run), so this is rare.
  cudaDeviceSynchronize();
  DeviceArena* arena = nullptr;
  {
    std::lock_guard lock(arena_mu_);
    arena = arena_.get();
  }
  STRATA_CHECK(arena != nullptr, name() + ": freeing Device memory before the device arena exists");
#ifdef STRATA_CUDA_EMULATION
  ::strata::cuda_emu::poison(ptr, arena->size_of(ptr));  // a use after free reads NaN
#endif
  arena->free(ptr);
}
void* CudaBackend::raw_create_stream() {
  cudaStream_t s;
  STRATA_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  return s;
}
void CudaBackend::raw_destroy_stream(void* h) { cudaStreamDestroy(static_cast<cudaStream_t>(h)); }
void* CudaBackend::raw_create_event() {
  cudaEvent_t e;
  STRATA_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
  return e;
}
void CudaBackend::raw_destroy_event(void* h) { cudaEventDestroy(static_cast<cudaEvent_t>(h)); }

std::unique_ptr<Backend> make_cuda_backend(int device) { return std::make_unique<CudaBackend>(device); }

}  // namespace strata::STRATA_CUDA_NS
