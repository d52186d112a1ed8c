// CudaBackend: device memory (cudaMalloc), pinned host memory (cudaHostAlloc), streams, events, async copies and the
// backend's own resources (cuBLAS handle, scratch). The fp32 op kernels live in one cuda_<family>.cu file each.
#include <cuda_runtime.h>

#include <string>

#include "engine/backend.h"
#include "engine/backend_cuda/cuda_backend.h"
#include "engine/backend_cuda/cuda_backend_impl.h"
#include "engine/backend_cuda/cuda_check.h"
#include "engine/check.h"

namespace strata {

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
  scratch_.reset();  // while this object can still free device memory
  destroy_compute_stream();
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
    case OpKind::SwiGLU:
    case OpKind::Add:
    case OpKind::CrossEntropy:
    case OpKind::Fill:
    case OpKind::AdamW:
    case OpKind::SumSquares: return true;
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

void* CudaBackend::raw_alloc(MemoryKind kind, size_t bytes, size_t) {
  void* p = nullptr;
  cudaError_t err;
  switch (kind) {
    case MemoryKind::Device: err = cudaMalloc(&p, bytes); break;  // 256-byte aligned or better
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
  if (kind == MemoryKind::Device) cudaFree(ptr);
  else cudaFreeHost(ptr);
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

}  // namespace strata
