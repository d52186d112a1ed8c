// Cached causal GQA attention on CUDA (generation): a store kernel writes the new keys and values into each row's
// cache at their positions; then one block per (row, query, head) walks the visible positions in tiles with an
// online softmax (running max and sum, fixed order: deterministic), so any cache length fits in shared memory.
#include <cuda_bf16.h>

#include <cmath>

#include "backend/cuda/cuda_backend_impl.h"
#include "backend/cuda/cuda_reduce.cuh"

namespace strata::STRATA_CUDA_NS {

namespace {

using cuda_detail::block_max;
using cuda_detail::block_sum;

constexpr int kThreads = 128;     // threads per (row, query, head) block; one key per thread per tile
constexpr int kMaxHeadSize = 512;  // larger heads (ModelConfig allows up to 1024) are refused with an error
constexpr int kDimsPerThread = kMaxHeadSize / kThreads;

__device__ __forceinline__ float load(const float* p, size_t i) { return p[i]; }
__device__ __forceinline__ float load(const __nv_bfloat16* p, size_t i) { return __bfloat162float(p[i]); }
__device__ __forceinline__ void store(float* p, size_t i, float v) { p[i] = v; }
__device__ __forceinline__ void store(__nv_bfloat16* p, size_t i, float v) { p[i] = __float2bfloat16_rn(v); }

// cache[b, pos[bt], :] = new[bt, :] for every (bt, e); row = NKV*HS values per position.
template <typename T>
__global__ void kv_store_kernel(T* k_cache, T* v_cache, const float* k_new, const float* v_new, const int32_t* pos,
                                int Tq, int S, size_t row, size_t total) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
    const size_t bt = i / row, e = i % row;
    const size_t dst = ((bt / Tq) * (size_t)S + pos[bt]) * row + e;
    store(k_cache, dst, k_new[i]);
    store(v_cache, dst, v_new[i]);
  }
}

// Block (bt, h): out[bt, h, :] = softmax over positions 0..pos[bt] of scale * q . k, times v.
template <typename T>
__global__ void cached_attention_kernel(float* out, const float* q, const T* k_cache, const T* v_cache,
                                        const int32_t* pos, int Tq, int S, int NH, int NKV, int HS, float scale,
                                        bool round_q) {
  STRATA_SHARED(float, qs, kMaxHeadSize);
  STRATA_SHARED(float, probs, kThreads);
  const int bt = blockIdx.x / NH, h = blockIdx.x % NH, b = bt / Tq, kvh = h / (NH / NKV), last = pos[bt];
  const float* qrow = q + ((size_t)bt * NH + h) * HS;
  for (int e = threadIdx.x; e < HS; e += blockDim.x)
    qs[e] = round_q ? __bfloat162float(__float2bfloat16_rn(qrow[e])) : qrow[e];
  __syncthreads();
  float acc[kDimsPerThread];
  for (int d = 0; d < kDimsPerThread; ++d) acc[d] = 0.0f;
  float m = -INFINITY, l = 0.0f;
  auto offset = [&](int j) { return (((size_t)b * S + j) * NKV + kvh) * HS; };
  for (int j0 = 0; j0 <= last; j0 += kThreads) {
    const int j = j0 + threadIdx.x;
    float sc = -INFINITY;
    if (j <= last) {
      float dot = 0.0f;
      for (int e = 0; e < HS; ++e) dot += qs[e] * load(k_cache, offset(j) + e);
      sc = dot * scale;
    }
    const float m_new = fmaxf(m, block_max(sc, -INFINITY));
    const float p = j <= last ? expf(sc - m_new) : 0.0f;
    probs[threadIdx.x] = p;
    const float tile_sum = block_sum(p);  // its barriers also publish probs[]
    const float c = expf(m - m_new);
    l = l * c + tile_sum;
    const int n = min(kThreads, last - j0 + 1);
    for (int d = 0; d < kDimsPerThread; ++d) {
      const int e = threadIdx.x + d * kThreads;
      if (e >= HS) break;
      float a = acc[d] * c;
      for (int jj = 0; jj < n; ++jj) a += probs[jj] * load(v_cache, offset(j0 + jj) + e);
      acc[d] = a;
    }
    m = m_new;
    __syncthreads();  // probs[] is rewritten by the next tile
  }
  float* o = out + ((size_t)bt * NH + h) * HS;
  for (int d = 0; d < kDimsPerThread; ++d) {
    const int e = threadIdx.x + d * kThreads;
    if (e < HS) o[e] = acc[d] / l;
  }
}

// The two kernels for caches of element type T (float, or __nv_bfloat16 with q rounded to bf16 as well).
template <typename T>
void launch_cached_attention(float* out, const float* q, const float* k_new, const float* v_new, void* k_cache,
                             void* v_cache, const int32_t* pos, const CachedAttentionShape& s, unsigned store_blocks,
                             cudaStream_t stream) {
  const size_t row = (size_t)s.NKV * s.HS, total = (size_t)s.B * s.Tq * row;
  T* kc = static_cast<T*>(k_cache);
  T* vc = static_cast<T*>(v_cache);
  STRATA_LAUNCH(kv_store_kernel<T>, store_blocks, 256, 0, stream)(kc, vc, k_new, v_new, pos, s.Tq, s.S, row, total);
  STRATA_CUDA_LAUNCH_CHECK("kv_store_kernel");
  const unsigned blocks = (unsigned)s.B * s.Tq * s.NH;
  STRATA_LAUNCH(cached_attention_kernel<T>, blocks, kThreads, 0, stream)(
      out, q, static_cast<const T*>(kc), static_cast<const T*>(vc), pos, s.Tq, s.S, s.NH, s.NKV, s.HS,
      1.0f / std::sqrt((float)s.HS), s.bf16_cache);
  STRATA_CUDA_LAUNCH_CHECK("cached_attention_kernel");
}

}  // namespace

void CudaBackend::attention_cached(float* out, const float* q, const float* k_new, const float* v_new,
                                   void* k_cache, void* v_cache, const int32_t* pos, const CachedAttentionShape& s) {
  if (s.B <= 0 || s.Tq <= 0) return;
  STRATA_CHECK(s.HS <= kMaxHeadSize, "attention_cached: head size " + std::to_string(s.HS) +
                                         " exceeds the CUDA kernel's " + std::to_string(kMaxHeadSize));
  const unsigned store_blocks = grid_for((size_t)s.B * s.Tq * s.NKV * s.HS, 256);
  if (s.bf16_cache)
    launch_cached_attention<__nv_bfloat16>(out, q, k_new, v_new, k_cache, v_cache, pos, s, store_blocks, stream());
  else
    launch_cached_attention<float>(out, q, k_new, v_new, k_cache, v_cache, pos, s, store_blocks, stream());
}

}  // namespace strata::STRATA_CUDA_NS
