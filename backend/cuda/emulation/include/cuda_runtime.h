// CPU emulation of the CUDA runtime subset Strata's kernels use: qualifiers, thread builtins, barriers, warp
// shuffles, vector types, memory, streams, events and kernel launches (through STRATA_LAUNCH). Replaces the toolkit's
// <cuda_runtime.h> for the emulation build only; names live in strata::cuda_emu, where the emulated sources are.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "backend/cuda/emulation/emu_device.h"

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(n) alignas(n)

#define threadIdx (::strata::cuda_emu::current_thread().thread_idx)
#define blockIdx (::strata::cuda_emu::current_thread().block_idx)
#define blockDim (::strata::cuda_emu::current_thread().block_dim)
#define gridDim (::strata::cuda_emu::current_thread().grid_dim)

namespace strata::cuda_emu {

constexpr int warpSize = 32;

struct alignas(8) float2 {
  float x, y;
};
struct alignas(16) float4 {
  float x, y, z, w;
};
inline float2 make_float2(float x, float y) {
  return {x, y};
}
inline float4 make_float4(float x, float y, float z, float w) {
  return {x, y, z, w};
}

using std::max;
using std::min;

inline void __syncthreads() {
  block_barrier();
}
inline void __syncwarp(unsigned = 0xffffffffu) {
  warp_barrier();
}

// The calling thread's lane: its linear index in the block (x fastest) modulo the warp size, as the hardware
// groups a block of any shape into warps.
inline int lane_id() {
  const ThreadState& t = current_thread();
  const unsigned linear = t.thread_idx.x + t.block_dim.x * (t.thread_idx.y + t.block_dim.y * t.thread_idx.z);
  return (int)(linear % warpSize);
}
// The source lane of a shuffle as PTX shfl.sync defines it: `width` (a power of two) splits the warp into segments;
// a source beyond the end of the caller's segment is invalid and the caller gets its own value back (-1 here).
inline int shfl_source(int lane, int src, int width) {
  const int segment_end = (lane & ~(width - 1)) | (width - 1);
  return src >= 0 && src <= segment_end ? src : -1;
}

// Lane + delta, within the caller's segment.
template <class T>
T __shfl_down_sync(unsigned, T v, unsigned delta, int width = warpSize) {
  const int lane = lane_id();
  const int src = shfl_source(lane, lane + (int)(delta & 31u), width);
  T out{};
  warp_exchange(&v, &out, sizeof(T), src < 0 ? lane : src);
  return out;
}
// Lane ^ mask: lanes of earlier segments may be read, later ones not (the CUDA programming guide's rule).
template <class T>
T __shfl_xor_sync(unsigned, T v, int mask, int width = warpSize) {
  const int lane = lane_id();
  const int src = shfl_source(lane, lane ^ (mask & 31), width);
  T out{};
  warp_exchange(&v, &out, sizeof(T), src < 0 ? lane : src);
  return out;
}
template <class T>
T __ldg(const T* p) {
  return *p;
}

// ---- Runtime API ----------------------------------------------------------------------------------------------

enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidDevice = 101,
  cudaErrorNotReady = 600,
  cudaErrorLaunchFailure = 719,
};
enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4
};
enum cudaDeviceAttr {
  cudaDevAttrMaxThreadsPerBlock = 1,
  cudaDevAttrMaxSharedMemoryPerBlock = 8,
  cudaDevAttrMultiProcessorCount = 16,
  cudaDevAttrMaxSharedMemoryPerBlockOptin = 97
};
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };
constexpr unsigned cudaStreamNonBlocking = 1;
constexpr unsigned cudaEventDisableTiming = 2;
constexpr unsigned cudaHostAllocDefault = 0;

struct EmuStream;
struct EmuEvent;
using cudaStream_t = EmuStream*;
using cudaEvent_t = EmuEvent*;

const char* cudaGetErrorString(cudaError_t e);
cudaError_t cudaGetLastError();
cudaError_t cudaGetDeviceCount(int* n);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device);
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes);
cudaError_t cudaMalloc(void** p, size_t bytes);
cudaError_t cudaFree(void* p);
cudaError_t cudaHostAlloc(void** p, size_t bytes, unsigned flags);
cudaError_t cudaMallocHost(void** p, size_t bytes);
cudaError_t cudaFreeHost(void* p);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream = nullptr);
cudaError_t cudaMemsetAsync(void* p, int value, size_t bytes, cudaStream_t stream = nullptr);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t s);
cudaError_t cudaStreamSynchronize(cudaStream_t s);
cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned flags = 0);
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned flags);
cudaError_t cudaEventDestroy(cudaEvent_t e);
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s = nullptr);
cudaError_t cudaEventSynchronize(cudaEvent_t e);
cudaError_t cudaEventQuery(cudaEvent_t e);
cudaError_t cudaDeviceSynchronize();

// Accepted when the value is within the device's opt-in maximum (227 KiB).
template <class F>
cudaError_t cudaFuncSetAttribute(F*, cudaFuncAttribute attr, int value) {
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize || value < 0 || value > 227 * 1024)
    return cudaErrorInvalidValue;
  return cudaSuccess;
}

// ---- Shared memory and launches -----------------------------------------------------------------------------------

template <class T>
T* dynamic_shared() {
  return static_cast<T*>(dynamic_shared_bytes());
}
template <class T>
T* block_shared(size_t n, const void* key) {
  return static_cast<T*>(block_shared_bytes(n * sizeof(T), key));
}

// STRATA_LAUNCH(kernel, grid, block, smem, stream)(args...): the arguments are copied when the launch is queued,
// as the GPU copies them into its parameter space. Dynamic shared memory is checked against the device's opt-in
// maximum; whether the kernel opted in (cudaFuncSetAttribute) is left to the device check.
template <class F>
struct KernelLaunch {
  const char* name;
  F call;  // calls the kernel with the arguments
  dim3 grid, block;
  size_t smem;
  cudaStream_t stream;
  template <class... A>
  void operator()(A&&... args) const {
    if (smem > 227 * 1024) {
      fail_launch(name, "asks for " + std::to_string(smem) + " bytes of dynamic shared memory, more than the " +
                            "device's 232448");
      return;
    }
    auto params = std::make_tuple(std::decay_t<A>(std::forward<A>(args))...);
    enqueue_launch(name, grid, block, smem, stream, [c = call, params] { std::apply(c, params); });
  }
};
template <class F>
KernelLaunch<F> launch_kernel(const char* name, F call, dim3 grid, dim3 block, size_t smem, cudaStream_t stream) {
  return {name, call, grid, block, smem, stream};
}

}  // namespace strata::cuda_emu

// The CUDA names are global in real code; the emulated sources live in strata::cuda_emu and see them there.
