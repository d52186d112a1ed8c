// The bf16-storage ops other than the GEMMs and the optimizer's: fp32 <-> bf16 conversion and the embedding
// gather/scatter on a bf16 table (AdamW and the sum of squares in bf16 live in cuda_optimizer.cu).
#include <cuda_bf16.h>

#include <cstdint>
#include <cub/device/device_radix_sort.cuh>

#include "backend/cuda/cuda_backend_impl.h"

namespace strata::STRATA_CUDA_NS {

namespace {

constexpr size_t kAlign = 256;      // pieces carved from the one scratch buffer start on this boundary

size_t align_up(size_t bytes) { return (bytes + kAlign - 1) & ~(kAlign - 1); }
bool aligned(const void* p, size_t a) { return reinterpret_cast<uintptr_t>(p) % a == 0; }

// ---- conversion -------------------------------------------------------------------------------------------------

// dst[4*i .. 4*i+3] = bf16(src[...]) for i < n4: one 16-byte load, two 4-byte stores (src 16-, dst 8-byte aligned)
__global__ void f32_to_bf16_vec4_kernel(__nv_bfloat16* dst, const float* src, size_t n4) {
  const float4* s4 = reinterpret_cast<const float4*>(src);
  __nv_bfloat162* d2 = reinterpret_cast<__nv_bfloat162*>(dst);
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n4; i += (size_t)gridDim.x * blockDim.x) {
    const float4 f = s4[i];
    d2[2 * i] = __floats2bfloat162_rn(f.x, f.y);  // .x (lower address) = first
    d2[2 * i + 1] = __floats2bfloat162_rn(f.z, f.w);
  }
}

// dst[i] = bf16(src[i]) for begin <= i < n
__global__ void f32_to_bf16_kernel(__nv_bfloat16* dst, const float* src, size_t begin, size_t n) {
  for (size_t i = begin + blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    dst[i] = __float2bfloat16_rn(src[i]);
}

// dst[4*i .. 4*i+3] = float(src[...]) for i < n4: two 4-byte loads, one 16-byte store (src 8-, dst 16-byte aligned)
__global__ void bf16_to_f32_vec4_kernel(float* dst, const __nv_bfloat16* src, size_t n4) {
  const __nv_bfloat162* s2 = reinterpret_cast<const __nv_bfloat162*>(src);
  float4* d4 = reinterpret_cast<float4*>(dst);
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n4; i += (size_t)gridDim.x * blockDim.x) {
    const float2 lo = __bfloat1622float2(s2[2 * i]);
    const float2 hi = __bfloat1622float2(s2[2 * i + 1]);
    d4[i] = make_float4(lo.x, lo.y, hi.x, hi.y);
  }
}

// dst[i] = float(src[i]) for begin <= i < n
__global__ void bf16_to_f32_kernel(float* dst, const __nv_bfloat16* src, size_t begin, size_t n) {
  for (size_t i = begin + blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    dst[i] = __bfloat162float(src[i]);
}

// dst[i] = bf16(float(dst[i]) + src[i]) for i < n
__global__ void accumulate_into_bf16_kernel(__nv_bfloat16* dst, const float* src, size_t n) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    dst[i] = __float2bfloat16_rn(__bfloat162float(dst[i]) + src[i]);
}

// ---- embedding --------------------------------------------------------------------------------------------------

// out[N,C] = float(table[tokens[n], c])
__global__ void embedding_forward_bf16_kernel(float* out, const int32_t* tokens, const __nv_bfloat16* table, int N,
                                              int C) {
  const size_t total = (size_t)N * C;
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
    const size_t n = i / (size_t)C, c = i % (size_t)C;
    out[i] = __bfloat162float(table[(size_t)tokens[n] * C + c]);
  }
}

// order[i] = i, i < N: the values sorted along with the tokens
__global__ void iota_kernel(int32_t* order, int N) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < N; i += gridDim.x * blockDim.x) order[i] = i;
}

// keys[N] = tokens stably sorted, order[N] = their positions n (ascending within equal keys). Block (i, y): if i
// starts a run of equal keys v, its threads own columns c of row v: from float(dtable[v,c]) they add dout[n,c] over
// the run in order of n (the CPU backend's order) and round once. One writer per entry: deterministic, atomic-free.
__global__ void embedding_backward_bf16_kernel(__nv_bfloat16* dtable, const float* dout, const int32_t* keys,
                                               const int32_t* order, int N, int C) {
  const int i = blockIdx.x;
  const int32_t v = keys[i];
  if (i > 0 && keys[i - 1] == v) return;  // not the start of v's run (uniform over the block)
  const int c = blockIdx.y * blockDim.x + threadIdx.x;
  if (c >= C) return;
  const size_t at = (size_t)v * C + c;
  float acc = __bfloat162float(dtable[at]);
  for (int j = i; j < N && keys[j] == v; ++j) acc += dout[(size_t)order[j] * C + c];
  dtable[at] = __float2bfloat16_rn(acc);
}

}  // namespace

void CudaBackend::convert_f32_to_bf16(bf16* dst, const float* src, size_t n) {
  if (n == 0) return;
  __nv_bfloat16* d = reinterpret_cast<__nv_bfloat16*>(dst);
  const int threads = std::min(256, max_threads_per_block_);
  size_t done = 0;
  if (aligned(src, 16) && aligned(dst, 8) && n >= 4) {
    const size_t n4 = n / 4;
    STRATA_LAUNCH(f32_to_bf16_vec4_kernel, grid_for(n4, threads), threads, 0, stream())(d, src, n4);
    STRATA_CUDA_LAUNCH_CHECK("f32_to_bf16_vec4_kernel");
    done = n4 * 4;
  }
  if (done < n) {
    STRATA_LAUNCH(f32_to_bf16_kernel, grid_for(n - done, threads), threads, 0, stream())(d, src, done, n);
    STRATA_CUDA_LAUNCH_CHECK("f32_to_bf16_kernel");
  }
}

void CudaBackend::convert_bf16_to_f32(float* dst, const bf16* src, size_t n) {
  if (n == 0) return;
  const __nv_bfloat16* s = reinterpret_cast<const __nv_bfloat16*>(src);
  const int threads = std::min(256, max_threads_per_block_);
  size_t done = 0;
  if (aligned(src, 8) && aligned(dst, 16) && n >= 4) {
    const size_t n4 = n / 4;
    STRATA_LAUNCH(bf16_to_f32_vec4_kernel, grid_for(n4, threads), threads, 0, stream())(dst, s, n4);
    STRATA_CUDA_LAUNCH_CHECK("bf16_to_f32_vec4_kernel");
    done = n4 * 4;
  }
  if (done < n) {
    STRATA_LAUNCH(bf16_to_f32_kernel, grid_for(n - done, threads), threads, 0, stream())(dst, s, done, n);
    STRATA_CUDA_LAUNCH_CHECK("bf16_to_f32_kernel");
  }
}

void CudaBackend::accumulate_into_bf16(bf16* dst, const float* src, size_t n) {
  if (n == 0) return;
  const int threads = std::min(256, max_threads_per_block_);
  STRATA_LAUNCH(accumulate_into_bf16_kernel, grid_for(n, threads), threads, 0, stream())(
      reinterpret_cast<__nv_bfloat16*>(dst), src, n);
  STRATA_CUDA_LAUNCH_CHECK("accumulate_into_bf16_kernel");
}

void CudaBackend::embedding_forward_bf16(float* out, const int32_t* tokens, const bf16* table, int N, int C, int) {
  const size_t total = (size_t)N * C;
  if (N <= 0 || C <= 0) return;
  const int threads = std::min(256, max_threads_per_block_);
  STRATA_LAUNCH(embedding_forward_bf16_kernel, grid_for(total, threads), threads, 0, stream())
  (out, tokens, reinterpret_cast<const __nv_bfloat16*>(table), N, C);
  STRATA_CUDA_LAUNCH_CHECK("embedding_forward_bf16_kernel");
}

void CudaBackend::embedding_backward_bf16(bf16* dtable, const float* dout, const int32_t* tokens, int N, int C,
                                          int) {
  if (N <= 0 || C <= 0) return;
  // Group equal tokens, in order of n, with a stable radix sort of (token, n) pairs on all 32 key bits (so even an
  // out-of-range token cannot split a run). One scratch buffer: keys [N] | order_in [N] | order [N] | cub temp.
  size_t temp_bytes = 0;
  STRATA_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, static_cast<const int32_t*>(nullptr),
                                                    static_cast<int32_t*>(nullptr),
                                                    static_cast<const int32_t*>(nullptr),
                                                    static_cast<int32_t*>(nullptr), N, 0, 32, stream()));
  const size_t idx_bytes = align_up(sizeof(int32_t) * (size_t)N);
  char* base = static_cast<char*>(scratch(3 * idx_bytes + align_up(temp_bytes)));
  int32_t* keys = reinterpret_cast<int32_t*>(base);                   // [N] tokens, sorted
  int32_t* order_in = reinterpret_cast<int32_t*>(base + idx_bytes);   // [N] 0..N-1
  int32_t* order = reinterpret_cast<int32_t*>(base + 2 * idx_bytes);  // [N] n of each sorted token
  void* temp = base + 3 * idx_bytes;
  const int threads = std::min(256, max_threads_per_block_);
  STRATA_LAUNCH(iota_kernel, grid_for((size_t)N, threads), threads, 0, stream())(order_in, N);
  STRATA_CUDA_LAUNCH_CHECK("iota_kernel");
  STRATA_CUDA_CHECK(
      cub::DeviceRadixSort::SortPairs(temp, temp_bytes, tokens, keys, order_in, order, N, 0, 32, stream()));
  const int col_threads = std::min(128, max_threads_per_block_);
  const dim3 grid((unsigned)N, (unsigned)((C + col_threads - 1) / col_threads));
  STRATA_LAUNCH(embedding_backward_bf16_kernel, grid, col_threads, 0, stream())
  (reinterpret_cast<__nv_bfloat16*>(dtable), dout, keys, order, N, C);
  STRATA_CUDA_LAUNCH_CHECK("embedding_backward_bf16_kernel");
}

}  // namespace strata::STRATA_CUDA_NS
