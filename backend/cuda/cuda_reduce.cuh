// Deterministic block reductions for the CUDA kernels: warp shuffles in a fixed tree, then the warp partials
// reduced by warp 0 in lane order. blockDim.x must be a multiple of 32 (at most 1024). Every thread gets the result.
#pragma once
#include <cuda_runtime.h>

#include "backend/cuda/cuda_portable.h"

namespace strata::STRATA_CUDA_NS {
namespace cuda_detail {

template <typename T>
__device__ __forceinline__ T warp_sum(T v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  return v;
}

template <typename T>
__device__ __forceinline__ T warp_max(T v) {
  for (int o = 16; o > 0; o >>= 1) {
    const T other = __shfl_down_sync(0xffffffffu, v, o);
    v = other > v ? other : v;
  }
  return v;
}

template <typename T>
__device__ T block_sum(T v) {
  STRATA_SHARED(T, partial, 32);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = (blockDim.x + 31) >> 5;
  v = warp_sum(v);
  __syncthreads();  // a previous call may still be reading partial[0]
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  if (warp == 0) {
    T r = lane < nwarps ? partial[lane] : T(0);
    r = warp_sum(r);
    if (lane == 0) partial[0] = r;
  }
  __syncthreads();
  return partial[0];
}

template <typename T>
__device__ T block_max(T v, T lowest) {
  STRATA_SHARED(T, partial, 32);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = (blockDim.x + 31) >> 5;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  if (warp == 0) {
    T r = lane < nwarps ? partial[lane] : lowest;
    r = warp_max(r);
    if (lane == 0) partial[0] = r;
  }
  __syncthreads();
  return partial[0];
}

}  // namespace cuda_detail
}  // namespace strata::STRATA_CUDA_NS
