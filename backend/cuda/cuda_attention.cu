// Causal grouped-query attention on CUDA (scale 1/sqrt(HS)), flash-style in memory: the forward keeps only the
// row logsumexp, the backward recomputes probabilities from it. Simple, correct, deterministic kernels:
//   forward: one block per (b, h, query row), keys in chunks of blockDim with an online softmax;
//   backward: D = rowsum(dO * O), then dq with one block per (b, h, query row) looping over its keys, and dk/dv
//   with one block per (b, kv head, key row) looping over the group's heads and the queries that see the key.
// Every output element is accumulated by one thread in a fixed order: no atomics.
// With AttentionShape::bf16_inputs the tensor-core kernels of cuda_flash_attention.cu run instead; shapes they do
// not support run these kernels on bf16-rounded copies of q, k and v.
#include <cuda_bf16.h>

#include <cmath>

#include "backend/cuda/cuda_attention_shape.cuh"
#include "backend/cuda/cuda_backend_impl.h"
#include "backend/cuda/cuda_reduce.cuh"

namespace strata::STRATA_CUDA_NS {

namespace {

using cuda_detail::block_max;
using cuda_detail::block_sum;

constexpr int kAttnThreads = 128;  // keys (or queries) per chunk; a multiple of 32

using Shape = AttentionDims;

__device__ __forceinline__ float dot(const float* a, const float* b, int n) {
  float s = 0.0f;
  for (int e = 0; e < n; ++e) s += a[e] * b[e];
  return s;
}

// Block per (b, h, t); rows ordered so the longest (latest t) start first. Shared: q[HS], acc[HS], p[blockDim].
__global__ void attention_forward_kernel(float* out, float* lse, const float* q, const float* k, const float* v,
                                         Shape s) {
  STRATA_DYNAMIC_SHARED(float, sm, 16);
  float* q_s = sm;
  float* acc = q_s + s.HS;
  float* p_s = acc + s.HS;
  const int T = s.T, HS = s.HS;
  const int t = T - 1 - (int)(blockIdx.x % (unsigned)T);
  const int bh = (int)(blockIdx.x / (unsigned)T), h = bh % s.NH, b = bh / s.NH, kvh = h / s.group;
  const size_t q_ld = (size_t)s.NH * HS, kv_ld = (size_t)s.NKV * HS;
  const float* qt = q + ((size_t)b * T + t) * q_ld + (size_t)h * HS;
  const float* Kb = k + (size_t)b * T * kv_ld + (size_t)kvh * HS;
  const float* Vb = v + (size_t)b * T * kv_ld + (size_t)kvh * HS;
  for (int e = threadIdx.x; e < HS; e += blockDim.x) {
    q_s[e] = qt[e];
    acc[e] = 0.0f;
  }
  __syncthreads();
  float m = -INFINITY, l = 0.0f;
  for (int j0 = 0; j0 <= t; j0 += blockDim.x) {
    const int j = j0 + threadIdx.x;
    float sc = -INFINITY;
    if (j <= t) sc = dot(q_s, Kb + (size_t)j * kv_ld, HS) * s.scale;
    const float m_new = fmaxf(m, block_max(sc, -INFINITY));
    const float pj = j <= t ? expf(sc - m_new) : 0.0f;
    p_s[threadIdx.x] = pj;
    const float csum = block_sum(pj);  // its barriers also publish p_s
    const float corr = expf(m - m_new);
    l = l * corr + csum;
    m = m_new;
    const int n = min((int)blockDim.x, t + 1 - j0);
    for (int e = threadIdx.x; e < HS; e += blockDim.x) {
      float a = acc[e] * corr;
      for (int jj = 0; jj < n; ++jj) a += p_s[jj] * Vb[(size_t)(j0 + jj) * kv_ld + e];
      acc[e] = a;
    }
    __syncthreads();  // p_s is rewritten by the next chunk
  }
  float* ot = out + ((size_t)b * T + t) * q_ld + (size_t)h * HS;
  const float inv_l = 1.0f / l;
  for (int e = threadIdx.x; e < HS; e += blockDim.x) ot[e] = acc[e] * inv_l;
  if (threadIdx.x == 0) lse[((size_t)b * s.NH + h) * T + t] = m + logf(l);
}

// D[b, h, t] = sum_e dO[b,t,h,e] * O[b,t,h,e]; one warp per row.
__global__ void attention_rowdot_kernel(float* D, const float* dout, const float* out, Shape s) {
  const size_t rows = (size_t)s.B * s.NH * s.T;
  const size_t row = (blockIdx.x * (size_t)blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x & 31;
  if (row >= rows) return;
  const int t = (int)(row % (size_t)s.T);
  const size_t bh = row / (size_t)s.T;
  const int h = (int)(bh % (size_t)s.NH), b = (int)(bh / (size_t)s.NH);
  const size_t off = (((size_t)b * s.T + t) * s.NH + h) * s.HS;
  float d = 0.0f;
  for (int e = lane; e < s.HS; e += 32) d += dout[off + e] * out[off + e];
  d = cuda_detail::warp_sum(d);
  if (lane == 0) D[row] = d;
}

// Block per (b, h, t): dq[t] += sum_j dS_tj k_j. Shared: q[HS], dO[HS], acc[HS], ds[blockDim].
__global__ void attention_dq_kernel(float* dq, const float* dout, const float* q, const float* k, const float* v,
                                    const float* lse, const float* D, Shape s) {
  STRATA_DYNAMIC_SHARED(float, sm, 16);
  const int T = s.T, HS = s.HS;
  float* q_s = sm;
  float* do_s = q_s + HS;
  float* acc = do_s + HS;
  float* ds_s = acc + HS;
  const int t = T - 1 - (int)(blockIdx.x % (unsigned)T);
  const int bh = (int)(blockIdx.x / (unsigned)T), h = bh % s.NH, b = bh / s.NH, kvh = h / s.group;
  const size_t q_ld = (size_t)s.NH * HS, kv_ld = (size_t)s.NKV * HS;
  const size_t qoff = ((size_t)b * T + t) * q_ld + (size_t)h * HS;
  const float* Kb = k + (size_t)b * T * kv_ld + (size_t)kvh * HS;
  const float* Vb = v + (size_t)b * T * kv_ld + (size_t)kvh * HS;
  const size_t row = ((size_t)b * s.NH + h) * T + t;
  const float L = lse[row], Dt = D[row];
  for (int e = threadIdx.x; e < HS; e += blockDim.x) {
    q_s[e] = q[qoff + e];
    do_s[e] = dout[qoff + e];
    acc[e] = 0.0f;
  }
  __syncthreads();
  for (int j0 = 0; j0 <= t; j0 += blockDim.x) {
    const int j = j0 + threadIdx.x;
    float ds = 0.0f;
    if (j <= t) {
      const float p = expf(dot(q_s, Kb + (size_t)j * kv_ld, HS) * s.scale - L);
      const float dp = dot(do_s, Vb + (size_t)j * kv_ld, HS);
      ds = p * (dp - Dt) * s.scale;
    }
    ds_s[threadIdx.x] = ds;
    __syncthreads();
    const int n = min((int)blockDim.x, t + 1 - j0);
    for (int e = threadIdx.x; e < HS; e += blockDim.x) {
      float a = acc[e];
      for (int jj = 0; jj < n; ++jj) a += ds_s[jj] * Kb[(size_t)(j0 + jj) * kv_ld + e];
      acc[e] = a;
    }
    __syncthreads();
  }
  for (int e = threadIdx.x; e < HS; e += blockDim.x) dq[qoff + e] += acc[e];
}

// Block per (b, kvh, key j): dv[j] += sum_{h in group, t >= j} P_tj dO_t; dk[j] += sum dS_tj q_t.
// Shared: k[HS], v[HS], acck[HS], accv[HS], p[blockDim], ds[blockDim].
__global__ void attention_dkv_kernel(float* dk, float* dv, const float* dout, const float* q, const float* k,
                                     const float* v, const float* lse, const float* D, Shape s) {
  STRATA_DYNAMIC_SHARED(float, sm, 16);
  const int T = s.T, HS = s.HS;
  float* k_s = sm;
  float* v_s = k_s + HS;
  float* acck = v_s + HS;
  float* accv = acck + HS;
  float* p_s = accv + HS;
  float* ds_s = p_s + blockDim.x;
  const int j = (int)(blockIdx.x % (unsigned)T);  // early keys see the most queries: they come first
  const int bk = (int)(blockIdx.x / (unsigned)T), kvh = bk % s.NKV, b = bk / s.NKV;
  const size_t q_ld = (size_t)s.NH * HS, kv_ld = (size_t)s.NKV * HS;
  const size_t koff = ((size_t)b * T + j) * kv_ld + (size_t)kvh * HS;
  for (int e = threadIdx.x; e < HS; e += blockDim.x) {
    k_s[e] = k[koff + e];
    v_s[e] = v[koff + e];
    acck[e] = 0.0f;
    accv[e] = 0.0f;
  }
  __syncthreads();
  for (int h = kvh * s.group; h < (kvh + 1) * s.group; ++h) {
    const float* Qb = q + (size_t)b * T * q_ld + (size_t)h * HS;
    const float* dOb = dout + (size_t)b * T * q_ld + (size_t)h * HS;
    const size_t rowbase = ((size_t)b * s.NH + h) * T;
    for (int t0 = j; t0 < T; t0 += blockDim.x) {
      const int t = t0 + threadIdx.x;
      float p = 0.0f, ds = 0.0f;
      if (t < T) {
        p = expf(dot(Qb + (size_t)t * q_ld, k_s, HS) * s.scale - lse[rowbase + t]);
        const float dp = dot(dOb + (size_t)t * q_ld, v_s, HS);
        ds = p * (dp - D[rowbase + t]) * s.scale;
      }
      p_s[threadIdx.x] = p;
      ds_s[threadIdx.x] = ds;
      __syncthreads();
      const int n = min((int)blockDim.x, T - t0);
      for (int e = threadIdx.x; e < HS; e += blockDim.x) {
        float ak = acck[e], av = accv[e];
        for (int i = 0; i < n; ++i) {
          const size_t o = (size_t)(t0 + i) * q_ld + e;
          av += p_s[i] * dOb[o];
          ak += ds_s[i] * Qb[o];
        }
        acck[e] = ak;
        accv[e] = av;
      }
      __syncthreads();
    }
  }
  for (int e = threadIdx.x; e < HS; e += blockDim.x) {
    dk[koff + e] += acck[e];
    dv[koff + e] += accv[e];
  }
}

// r = [bf16(q) | bf16(k) | bf16(v)] kept in fp32 (round to nearest even), nq + 2 nkv values: the inputs of the
// fp32 kernels on the bf16 fallback path.
__global__ void round_qkv_to_bf16_kernel(float* __restrict__ r, const float* __restrict__ q,
                                         const float* __restrict__ k, const float* __restrict__ v, size_t nq,
                                         size_t nkv) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < nq + 2 * nkv;
       i += (size_t)gridDim.x * blockDim.x) {
    const float x = i < nq ? q[i] : i < nq + nkv ? k[i - nq] : v[i - nq - nkv];
    r[i] = __bfloat162float(__float2bfloat16_rn(x));
  }
}


}  // namespace

// Floats of q, k and v together.
static size_t qkv_floats(const AttentionDims& s) { return (size_t)s.B * s.T * (s.NH + 2 * s.NKV) * s.HS; }

void CudaBackend::round_qkv_bf16(float* r, const float*& q, const float*& k, const float*& v,
                                 const AttentionDims& s) {
  const size_t nq = (size_t)s.B * s.T * s.NH * s.HS, nkv = (size_t)s.B * s.T * s.NKV * s.HS;
  const int threads = std::min(256, max_threads_per_block_);
  STRATA_LAUNCH(round_qkv_to_bf16_kernel, grid_for(nq + 2 * nkv, threads), threads, 0, stream())(r, q, k, v, nq, nkv);
  STRATA_CUDA_LAUNCH_CHECK("round_qkv_to_bf16_kernel");
  q = r;
  k = r + nq;
  v = r + nq + nkv;
}

void CudaBackend::attention_forward(float* out, float* lse, const float* q, const float* k, const float* v,
                                    const AttentionShape& a) {
  const Shape s = attention_dims(a);
  if (a.bf16_inputs) {
    if (flash_attention_forward_bf16(out, lse, q, k, v, a)) return;
    // Unsupported by the tensor-core kernels: the fp32 kernels below on bf16-rounded copies of q, k, v.
    float* r = static_cast<float*>(scratch(sizeof(float) * qkv_floats(s)));  // q | k | v, rounded
    round_qkv_bf16(r, q, k, v, s);
  }
  const int threads = std::min(kAttnThreads, max_threads_per_block_);
  const size_t smem = sizeof(float) * (2 * (size_t)s.HS + threads);
  STRATA_CHECK(smem <= max_shared_per_block_, "attention_forward: head size " + std::to_string(s.HS) +
                                                  " needs more shared memory than the device has per block");
  const size_t blocks = (size_t)s.B * s.NH * s.T;
  STRATA_CHECK(blocks <= 0x7fffffffu, "attention_forward: B*NH*T too large for one CUDA grid");
  STRATA_LAUNCH(attention_forward_kernel, (unsigned)blocks, threads, smem, stream())(out, lse, q, k, v, s);
  STRATA_CUDA_LAUNCH_CHECK("attention_forward_kernel");
}

void CudaBackend::attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q,
                                     const float* k, const float* v, const float* out, const float* lse,
                                     const AttentionShape& a) {
  const Shape s = attention_dims(a);
  if (a.bf16_inputs && flash_attention_backward_bf16(dq, dk, dv, dout, q, k, v, out, lse, a)) return;
  const int threads = std::min(kAttnThreads, max_threads_per_block_);
  const size_t rows = (size_t)s.B * s.NH * s.T;
  STRATA_CHECK(rows <= 0x7fffffffu, "attention_backward: B*NH*T too large for one CUDA grid");
  // bf16 fallback (shapes the tensor-core kernels do not support): rounded copies of q, k, v after D.
  const size_t rounded = a.bf16_inputs ? qkv_floats(s) : 0;
  float* D = static_cast<float*>(scratch(sizeof(float) * (rows + rounded)));  // D [rows] | q | k | v (rounded)
  if (a.bf16_inputs) {
    round_qkv_bf16(D + rows, q, k, v, s);
  }

  const int rd_threads = std::min(256, max_threads_per_block_);
  const size_t rd_blocks = (rows * 32 + rd_threads - 1) / rd_threads;
  STRATA_LAUNCH(attention_rowdot_kernel, (unsigned)rd_blocks, rd_threads, 0, stream())(D, dout, out, s);
  STRATA_CUDA_LAUNCH_CHECK("attention_rowdot_kernel");

  const size_t smem_q = sizeof(float) * (3 * (size_t)s.HS + threads);
  const size_t smem_kv = sizeof(float) * (4 * (size_t)s.HS + 2 * (size_t)threads);
  STRATA_CHECK(smem_kv <= max_shared_per_block_, "attention_backward: head size " + std::to_string(s.HS) +
                                                     " needs more shared memory than the device has per block");
  STRATA_LAUNCH(attention_dq_kernel, (unsigned)rows, threads, smem_q, stream())(dq, dout, q, k, v, lse, D, s);
  STRATA_CUDA_LAUNCH_CHECK("attention_dq_kernel");
  const size_t kv_blocks = (size_t)s.B * s.NKV * s.T;
  STRATA_LAUNCH(attention_dkv_kernel, (unsigned)kv_blocks, threads, smem_kv, stream())
  (dk, dv, dout, q, k, v, lse, D, s);
  STRATA_CUDA_LAUNCH_CHECK("attention_dkv_kernel");
}

}  // namespace strata::STRATA_CUDA_NS
