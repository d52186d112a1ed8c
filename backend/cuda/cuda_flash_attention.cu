// Flash-attention-style causal GQA attention on bf16 tensor cores (nvcuda::wmma), forward and backward: the CUDA
// path of AttentionShape::bf16_inputs. fp32 tensors in global memory, bf16 operand tiles, fp32 accumulation.
//
// ---- Algorithm and index conventions (the desk-check reference for every kernel below) -----------------------
// Global (fp32, row-major): q, out, dout, dq [B,T,NH,HS]; k, v, dk, dv [B,T,NKV,HS]; lse, D [B,NH,T].
//   q_ld = NH*HS, kv_ld = NKV*HS; q row (b,t,h) at ((b*T + t)*NH + h)*HS = (b*T + t)*q_ld + h*HS; likewise k/v
//   with kv_ld and kv head kvh = h / group (group = NH/NKV); lse/D row (b,h,t) at (b*NH + h)*T + t.
//   Query i sees keys j <= i; scale = 1/sqrt(HS); S_ij = scale * bf16(q_i) . bf16(k_j) (fp32 sum);
//   lse_i = log sum_{j<=i} exp(S_ij); P_ij = exp(S_ij - lse_i); out_i = sum_j bf16(P_ij~) bf16(v_j) / l_i, where
//   P~ is the unnormalised exp(S - running max) of the online softmax.
// Tiles: kTile = 64 rows (Br = Bc = 64), 4 warps x 16 rows, 128 threads. Query tile qt holds queries
//   q0 = 64*qt .. q0+63, key tile kt holds keys k0 = 64*kt .. k0+63; nt = ceil(T/64) tiles of each. Because
//   Br == Bc, query tile qt needs key tiles kt = 0..qt and key tile kt is seen by query tiles qt = kt..nt-1; every
//   (query row < T, key tile <= its tile) pair has at least one visible key (key k0 <= q0 <= i). Rows >= T are
//   loaded as zeros, masked out of every product (P = dS = 0 there) and never written.
// Shared memory: operand tiles are bf16 [64][HS+8] (row stride kLdb = HS+8: a multiple of 8 elements, 16 bytes of
//   padding against bank conflicts); scores fp32 [64][68]; probabilities bf16 [64][72]; fp32 accumulators
//   [64][HS+4]. Warp w owns rows 16w..16w+15 of every per-row buffer (scores, probabilities, O), so only the shared
//   operand tiles need __syncthreads; per-warp buffers need __syncwarp between the wmma store and the lane pass.
// Lane pass over a warp's 16 x 64 score block: lane = 2r + h owns row r (0..15) and the 32 columns
//   score_col(r, h, e) = 2*((e + r) & 31) + h, e = 0..31 (the pair covers all 64; conflict-free for stride 68).
//   The pair combines its row max and row sum with one __shfl_xor(.., 1) (commutative: both lanes agree).
// Forward, CTA (qt, h, b): Q tile -> bf16 smem -> wmma A fragments in registers; O [64][HS+4] fp32 = 0 in smem;
//   per row running max m = -inf, sum l = 0. For kt = 0..qt: K, V tiles -> bf16 smem; per warp
//   S[16 x 64] = Q_w K^T (wmma, stored to scores); lane pass: x = S*scale, -inf where j > i or j >= T;
//   m_new = max(m, rowmax x); mu = (m_new == -inf ? 0 : m_new); corr = exp(m - mu); p = exp(x - mu);
//   P[r][c] = bf16(p); l = l*corr + rowsum p (fp32 p); O row r *= corr; m = m_new; then O_w += P_w V (wmma,
//   the accumulator loaded from and stored back to O). End: out_i = O_i / l_i, lse_i = m + log(l), for i < T.
// Backward pre-pass: D_i = sum_e bf16(dO_ie) * O_ie (fp32, one warp per row) into device scratch [B,NH,T]. dO is
//   rounded as in dP = bf16(dO) bf16(V)^T, so that sum_j P_ij (dP_ij - D_i) stays ~0 (the softmax invariance):
//   with fp32 dO the rounding error of dP would not cancel (at T = 1, dS would be ~2^-9 |dO||V| instead of ~0).
// Backward dK/dV, CTA (kt, kvh, b): K, V tiles -> bf16 smem; per warp register accumulators dK_w, dV_w [16 x HS].
//   For h in the group (h = kvh*group ..), for qt = kt..nt-1: Q, dO tiles -> bf16 smem, lse/D of the tile's rows
//   -> smem (0 beyond T); per warp S^T[16 keys x 64 queries] = K_w Q^T; lane pass (row r = key j = k0+16w+r,
//   column c = query i = q0+c): p = (i < T && j <= i) ? exp(S^T*scale - lse_i) : 0, kept fp32 over S^T and
//   as bf16(p) in the probability buffer; dV_w += P^T dO; dP^T = V_w dO^T (its own fp32 buffer);
//   lane pass: dS^T = bf16(p * (dP^T - D_i)) over the probability buffer; dK_w += dS^T Q.
//   End: dk_j += scale * dK_j, dv_j += dV_j for j < T (staged through the free operand tiles, float4 writes).
// Backward dQ, CTA (qt, h, b): Q, dO tiles and lse/D rows -> smem once; per warp accumulator dQ_w [16 x HS].
//   For kt = 0..qt: K, V tiles; S = Q_w K^T; lane pass (row i = q0+16w+r, column j = k0+c):
//   p = (i < T && j <= i) ? exp(S*scale - lse_i) : 0; dP = dO_w V^T; dS = bf16(p * (dP - D_i)); dQ_w += dS K.
//   End: dq_i += scale * dQ_i for i < T. Every output element is written once per call by one thread, and every
//   sum runs in a fixed order: no atomics, bitwise reproducible.
#include <cuda_bf16.h>
#include <mma.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>

#include "backend/cuda/cuda_attention_shape.cuh"
#include "backend/cuda/cuda_backend_impl.h"
#include "backend/cuda/cuda_reduce.cuh"

namespace strata::STRATA_CUDA_NS {

namespace {

namespace wmma = nvcuda::wmma;
using bfloat = __nv_bfloat16;

constexpr int kTile = 64;             // query rows per CTA (Br) and keys per tile (Bc)
constexpr int kWarps = 4;             // each owns 16 rows of the CTA's tile
constexpr int kThreads = 32 * kWarps;
constexpr int kLds = kTile + 4;       // fp32 row stride of the score buffer
constexpr int kLdp = kTile + 8;       // bf16 row stride of the probability buffer
static_assert(kWarps * 16 == kTile, "one 16-row wmma block per warp");

using FlashShape = AttentionDims;

// Shared-memory layout of the kernels for head size kHS; every region is a multiple of 128 bytes.
template <int kHS>
struct Tiles {
  static constexpr int kLdb = kHS + 8;  // bf16 row stride of an operand tile [64][HS]
  static constexpr int kLdo = kHS + 4;  // fp32 row stride of an accumulator / staging tile [64][HS]
  static constexpr size_t kOperandBytes = (size_t)kTile * kLdb * sizeof(bfloat);
  static constexpr size_t kScoreBytes = (size_t)kTile * kLds * sizeof(float);
  static constexpr size_t kProbBytes = (size_t)kTile * kLdp * sizeof(bfloat);
  static constexpr size_t kAccBytes = (size_t)kTile * kLdo * sizeof(float);
  static constexpr size_t kRowBytes = (size_t)kTile * sizeof(float);
  // forward: Q | K | V | S | P | O | 1/l
  static constexpr size_t kForwardBytes = 3 * kOperandBytes + kScoreBytes + kProbBytes + kAccBytes + kRowBytes;
  // backward dQ: K | V | Q | dO | S (then dP) | dS | lse | D
  static constexpr size_t kDqBytes = 4 * kOperandBytes + kScoreBytes + kProbBytes + 2 * kRowBytes;
  // backward dK/dV: K | V | Q | dO | S (then P, fp32) | dP | P (then dS) | lse | D
  static constexpr size_t kDkvBytes = 4 * kOperandBytes + 2 * kScoreBytes + kProbBytes + 2 * kRowBytes;
  static_assert(kHS % 16 == 0 && kHS >= 16 && kHS <= 128, "head size: a multiple of 16, at most 128");
  static_assert(kOperandBytes % 128 == 0 && kScoreBytes % 128 == 0 && kProbBytes % 128 == 0 &&
                    kAccBytes % 128 == 0 && kRowBytes % 128 == 0,
                "regions keep 128-byte alignment (wmma needs 32)");
  static_assert(kAccBytes <= 2 * kOperandBytes, "an fp32 [64][HS] staging tile fits in two operand tiles");
};

using FragA = wmma::fragment<wmma::matrix_a, 16, 16, 16, bfloat, wmma::row_major>;
using FragBRow = wmma::fragment<wmma::matrix_b, 16, 16, 16, bfloat, wmma::row_major>;
using FragBCol = wmma::fragment<wmma::matrix_b, 16, 16, 16, bfloat, wmma::col_major>;
using FragAcc = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;

// See the header: the e-th of the 32 score columns lane half h of the pair owning row r handles.
__device__ __forceinline__ int score_col(int r, int h, int e) { return 2 * ((e + r) & 31) + h; }

// dst[r][0:HS] = bf16(src[r*ld + 0:HS]) for r < rows, zeros for rows <= r < 64. Whole CTA; src 16-byte aligned.
template <int kHS>
__device__ __forceinline__ void load_tile_bf16(bfloat* dst, const float* __restrict__ src, size_t ld, int rows) {
  constexpr int kVec = kHS / 4;  // float4 per row
  for (int idx = threadIdx.x; idx < kTile * kVec; idx += kThreads) {
    const int r = idx / kVec, c = (idx % kVec) * 4;
    float4 x = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    if (r < rows) x = __ldg(reinterpret_cast<const float4*>(src + (size_t)r * ld + c));
    __nv_bfloat162* d = reinterpret_cast<__nv_bfloat162*>(dst + r * Tiles<kHS>::kLdb + c);
    d[0] = __floats2bfloat162_rn(x.x, x.y);
    d[1] = __floats2bfloat162_rn(x.z, x.w);
  }
}

// dst[0:64] = src[0:rows], zeros beyond. Whole CTA.
__device__ __forceinline__ void load_rows(float* dst, const float* __restrict__ src, int rows) {
  for (int c = threadIdx.x; c < kTile; c += kThreads) dst[c] = c < rows ? src[c] : 0.0f;
}

// acc[16 x 64] block of warp rows, stored to scores[wrow:+16][0:64]: A rows (row-major, stride kLdb) times the
// transpose of the 64 B rows (B tile row n*16+x is column n*16+x of the product).
template <int kHS>
__device__ __forceinline__ void scores_abt(float* scores, const bfloat* a_rows, const bfloat* b_tile) {
  constexpr int kLdb = Tiles<kHS>::kLdb;
#pragma unroll
  for (int n = 0; n < kTile / 16; ++n) {
    FragAcc acc;
    wmma::fill_fragment(acc, 0.0f);
#pragma unroll
    for (int kk = 0; kk < kHS / 16; ++kk) {
      FragA a;
      FragBCol bt;
      wmma::load_matrix_sync(a, a_rows + kk * 16, kLdb);
      wmma::load_matrix_sync(bt, b_tile + n * 16 * kLdb + kk * 16, kLdb);
      wmma::mma_sync(acc, a, bt, acc);
    }
    wmma::store_matrix_sync(scores + n * 16, acc, kLds, wmma::mem_row_major);
  }
}

// acc[n] (16 x HS, HS/16 fragments) += A[16 x 64] (bf16, stride kLdp) @ B tile [64 x HS] (bf16, stride kLdb).
template <int kHS>
__device__ __forceinline__ void accumulate_ab(FragAcc (&acc)[kHS / 16], const bfloat* a_rows, const bfloat* b_tile) {
  constexpr int kLdb = Tiles<kHS>::kLdb;
  FragA a[kTile / 16];
#pragma unroll
  for (int kk = 0; kk < kTile / 16; ++kk) wmma::load_matrix_sync(a[kk], a_rows + kk * 16, kLdp);
#pragma unroll
  for (int n = 0; n < kHS / 16; ++n) {
#pragma unroll
    for (int kk = 0; kk < kTile / 16; ++kk) {
      FragBRow bm;
      wmma::load_matrix_sync(bm, b_tile + kk * 16 * kLdb + n * 16, kLdb);
      wmma::mma_sync(acc[n], a[kk], bm, acc[n]);
    }
  }
}

// dst[row0 + rr][:] += alpha * stage[16w + rr][:] for the warp's 16 rows rr with row0 + rr < T (global rows of
// stride ld; stage fp32 stride kLdo). float4, 16-byte aligned. Whole warp.
template <int kHS>
__device__ __forceinline__ void add_rows(float* __restrict__ dst, size_t ld, const float* stage, int wrow, int row0,
                                         int T, float alpha) {
  constexpr int kVec = kHS / 4;
  const int lane = threadIdx.x & 31;
  for (int idx = lane; idx < 16 * kVec; idx += 32) {
    const int rr = idx / kVec, c = (idx % kVec) * 4;
    if (row0 + rr >= T) continue;
    const float4 a = *reinterpret_cast<const float4*>(stage + (wrow + rr) * Tiles<kHS>::kLdo + c);
    float4* d = reinterpret_cast<float4*>(dst + (size_t)rr * ld + c);
    float4 g = *d;
    g.x += alpha * a.x;
    g.y += alpha * a.y;
    g.z += alpha * a.z;
    g.w += alpha * a.w;
    *d = g;
  }
}

// Forward. Grid (nt, NH, B); CTA = query tile qt (latest first), head h, batch b. See the header.
template <int kHS>
__global__ void __launch_bounds__(kThreads)
    flash_forward_kernel(float* __restrict__ out, float* __restrict__ lse, const float* __restrict__ q,
                         const float* __restrict__ k, const float* __restrict__ v, FlashShape s) {
  using L = Tiles<kHS>;
  constexpr int kLdb = L::kLdb, kLdo = L::kLdo;
  STRATA_DYNAMIC_SHARED(unsigned char, smem, 128);
  bfloat* Qs = reinterpret_cast<bfloat*>(smem);                                // [64][kLdb]
  bfloat* Ks = reinterpret_cast<bfloat*>(smem + L::kOperandBytes);             // [64][kLdb]
  bfloat* Vs = reinterpret_cast<bfloat*>(smem + 2 * L::kOperandBytes);         // [64][kLdb]
  unsigned char* rest = smem + 3 * L::kOperandBytes;
  float* Ss = reinterpret_cast<float*>(rest);                                  // [64][kLds] scores
  bfloat* Ps = reinterpret_cast<bfloat*>(rest + L::kScoreBytes);               // [64][kLdp] probabilities
  float* Os = reinterpret_cast<float*>(rest + L::kScoreBytes + L::kProbBytes);  // [64][kLdo] output accumulator
  float* inv_l = reinterpret_cast<float*>(rest + L::kScoreBytes + L::kProbBytes + L::kAccBytes);  // [64]

  const int T = s.T;
  const int qt = (int)(gridDim.x - 1 - blockIdx.x);
  const int h = (int)blockIdx.y, b = (int)blockIdx.z, kvh = h / s.group;
  const int q0 = qt * kTile;
  const int warp = (int)threadIdx.x >> 5, lane = (int)threadIdx.x & 31;
  const int wrow = warp * 16, r = lane >> 1, half = lane & 1;
  const int i = q0 + wrow + r;  // this lane's query row in the softmax pass
  const size_t q_ld = (size_t)s.NH * kHS, kv_ld = (size_t)s.NKV * kHS;
  const float* Qb = q + ((size_t)b * T + q0) * q_ld + (size_t)h * kHS;  // query row q0, head h
  const float* Kb = k + (size_t)b * T * kv_ld + (size_t)kvh * kHS;      // key row 0, kv head kvh
  const float* Vb = v + (size_t)b * T * kv_ld + (size_t)kvh * kHS;

  load_tile_bf16<kHS>(Qs, Qb, q_ld, min(kTile, T - q0));
  for (int idx = threadIdx.x; idx < kTile * kLdo; idx += kThreads) Os[idx] = 0.0f;
  __syncthreads();
  FragA qf[kHS / 16];  // the warp's 16 query rows, all of HS
#pragma unroll
  for (int kk = 0; kk < kHS / 16; ++kk) wmma::load_matrix_sync(qf[kk], Qs + wrow * kLdb + kk * 16, kLdb);

  float m = -INFINITY, l = 0.0f;  // running max / sum of row i (both lanes of the pair hold the same values)
  float* srow = Ss + (wrow + r) * kLds;
  bfloat* prow = Ps + (wrow + r) * kLdp;
  float* orow = Os + (wrow + r) * kLdo;
  for (int kt = 0; kt <= qt; ++kt) {
    const int k0 = kt * kTile;
    __syncthreads();  // every warp is done with the previous K / V tile
    load_tile_bf16<kHS>(Ks, Kb + (size_t)k0 * kv_ld, kv_ld, min(kTile, T - k0));
    load_tile_bf16<kHS>(Vs, Vb + (size_t)k0 * kv_ld, kv_ld, min(kTile, T - k0));
    __syncthreads();

    // S[wrow:+16, 0:64] = Q_w K^T
#pragma unroll
    for (int n = 0; n < kTile / 16; ++n) {
      FragAcc acc;
      wmma::fill_fragment(acc, 0.0f);
#pragma unroll
      for (int kk = 0; kk < kHS / 16; ++kk) {
        FragBCol kf;
        wmma::load_matrix_sync(kf, Ks + n * 16 * kLdb + kk * 16, kLdb);
        wmma::mma_sync(acc, qf[kk], kf, acc);
      }
      wmma::store_matrix_sync(Ss + wrow * kLds + n * 16, acc, kLds, wmma::mem_row_major);
    }
    __syncwarp();

    // Online softmax of row i over this tile's keys j = k0 + c.
    float x[32];
    float mt = -INFINITY;
#pragma unroll
    for (int e = 0; e < 32; ++e) {
      const int c = score_col(r, half, e), j = k0 + c;
      x[e] = (j > i || j >= T) ? -INFINITY : srow[c] * s.scale;
      mt = fmaxf(mt, x[e]);
    }
    mt = fmaxf(mt, __shfl_xor_sync(0xffffffffu, mt, 1));
    const float m_new = fmaxf(m, mt);
    const float mu = m_new == -INFINITY ? 0.0f : m_new;  // a fully masked row so far: keep exp() at exactly 0
    const float corr = expf(m - mu);
    float sum = 0.0f;
#pragma unroll
    for (int e = 0; e < 32; ++e) {
      const float p = expf(x[e] - mu);
      sum += p;
      prow[score_col(r, half, e)] = __float2bfloat16_rn(p);
    }
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    l = l * corr + sum;
    m = m_new;
#pragma unroll
    for (int e = 0; e < kHS / 2; ++e) orow[2 * ((e + r) % (kHS / 2)) + half] *= corr;
    __syncwarp();

    // O[wrow:+16, :] += P_w V
    FragA pf[kTile / 16];
#pragma unroll
    for (int kk = 0; kk < kTile / 16; ++kk) wmma::load_matrix_sync(pf[kk], Ps + wrow * kLdp + kk * 16, kLdp);
#pragma unroll
    for (int n = 0; n < kHS / 16; ++n) {
      FragAcc acc;
      wmma::load_matrix_sync(acc, Os + wrow * kLdo + n * 16, kLdo, wmma::mem_row_major);
#pragma unroll
      for (int kk = 0; kk < kTile / 16; ++kk) {
        FragBRow vf;
        wmma::load_matrix_sync(vf, Vs + kk * 16 * kLdb + n * 16, kLdb);
        wmma::mma_sync(acc, pf[kk], vf, acc);
      }
      wmma::store_matrix_sync(Os + wrow * kLdo + n * 16, acc, kLdo, wmma::mem_row_major);
    }
  }
  __syncwarp();
  if (half == 0) {
    inv_l[wrow + r] = 1.0f / l;
    if (i < T) lse[((size_t)b * s.NH + h) * T + i] = m + logf(l);
  }
  __syncwarp();
  constexpr int kVec = kHS / 4;
  for (int idx = lane; idx < 16 * kVec; idx += 32) {
    const int rr = idx / kVec, c = (idx % kVec) * 4;
    if (q0 + wrow + rr >= T) continue;
    const float4 o = *reinterpret_cast<const float4*>(Os + (wrow + rr) * kLdo + c);
    const float il = inv_l[wrow + rr];
    *reinterpret_cast<float4*>(out + ((size_t)b * T + q0 + wrow + rr) * q_ld + (size_t)h * kHS + c) =
        make_float4(o.x * il, o.y * il, o.z * il, o.w * il);
  }
}

// D[(b*NH + h)*T + t] = sum_e bf16(dO[b,t,h,e]) * O[b,t,h,e]; one warp per row (fixed lane order, no atomics).
__global__ void flash_rowdot_kernel(float* __restrict__ D, const float* __restrict__ dout,
                                    const float* __restrict__ out, FlashShape s) {
  const size_t rows = (size_t)s.B * s.NH * s.T;
  const size_t row = (blockIdx.x * (size_t)blockDim.x + threadIdx.x) / 32;
  const int lane = (int)threadIdx.x & 31;
  if (row >= rows) return;
  const int t = (int)(row % (size_t)s.T);
  const size_t bh = row / (size_t)s.T;
  const int h = (int)(bh % (size_t)s.NH), b = (int)(bh / (size_t)s.NH);
  const size_t off = (((size_t)b * s.T + t) * s.NH + h) * s.HS;
  float d = 0.0f;
  for (int e = lane; e < s.HS; e += 32) d += __bfloat162float(__float2bfloat16_rn(dout[off + e])) * out[off + e];
  d = cuda_detail::warp_sum(d);
  if (lane == 0) D[row] = d;
}

// Backward dK/dV. Grid (nt, NKV, B); CTA = key tile kt (earliest, i.e. most work, first), kv head, batch.
template <int kHS>
__global__ void __launch_bounds__(kThreads)
    flash_backward_dkv_kernel(float* __restrict__ dk, float* __restrict__ dv, const float* __restrict__ dout,
                              const float* __restrict__ q, const float* __restrict__ k,
                              const float* __restrict__ v, const float* __restrict__ lse,
                              const float* __restrict__ D, FlashShape s) {
  using L = Tiles<kHS>;
  constexpr int kLdb = L::kLdb, kLdo = L::kLdo;
  STRATA_DYNAMIC_SHARED(unsigned char, smem, 128);
  bfloat* Ks = reinterpret_cast<bfloat*>(smem);                         // [64][kLdb]
  bfloat* Vs = reinterpret_cast<bfloat*>(smem + L::kOperandBytes);      // [64][kLdb]
  bfloat* Qs = reinterpret_cast<bfloat*>(smem + 2 * L::kOperandBytes);  // [64][kLdb]
  bfloat* dOs = reinterpret_cast<bfloat*>(smem + 3 * L::kOperandBytes);  // [64][kLdb]
  unsigned char* rest = smem + 4 * L::kOperandBytes;
  float* Ss = reinterpret_cast<float*>(rest);                           // [64][kLds] S^T, then P^T (fp32)
  float* dPs = reinterpret_cast<float*>(rest + L::kScoreBytes);         // [64][kLds] dP^T
  bfloat* Ps = reinterpret_cast<bfloat*>(rest + 2 * L::kScoreBytes);    // [64][kLdp] P^T, then dS^T (bf16)
  float* lse_s = reinterpret_cast<float*>(rest + 2 * L::kScoreBytes + L::kProbBytes);  // [64] per query column
  float* D_s = lse_s + kTile;                                                           // [64]

  const int T = s.T, nt = (int)gridDim.x;
  const int kt = (int)blockIdx.x, kvh = (int)blockIdx.y, b = (int)blockIdx.z;
  const int k0 = kt * kTile;
  const int warp = (int)threadIdx.x >> 5, lane = (int)threadIdx.x & 31;
  const int wrow = warp * 16, r = lane >> 1, half = lane & 1;
  const int j = k0 + wrow + r;  // this lane's key row in the lane passes
  const size_t q_ld = (size_t)s.NH * kHS, kv_ld = (size_t)s.NKV * kHS;
  const size_t kv_off = ((size_t)b * T + k0) * kv_ld + (size_t)kvh * kHS;  // key row k0, kv head kvh

  load_tile_bf16<kHS>(Ks, k + kv_off, kv_ld, min(kTile, T - k0));
  load_tile_bf16<kHS>(Vs, v + kv_off, kv_ld, min(kTile, T - k0));
  FragAcc dkf[kHS / 16], dvf[kHS / 16];  // the warp's 16 key rows of dK / dV (unscaled dK)
#pragma unroll
  for (int n = 0; n < kHS / 16; ++n) {
    wmma::fill_fragment(dkf[n], 0.0f);
    wmma::fill_fragment(dvf[n], 0.0f);
  }
  float* srow = Ss + (wrow + r) * kLds;
  const float* dprow = dPs + (wrow + r) * kLds;
  bfloat* prow = Ps + (wrow + r) * kLdp;

  for (int h = kvh * s.group; h < (kvh + 1) * s.group; ++h) {
    const float* Qh = q + (size_t)b * T * q_ld + (size_t)h * kHS;  // query row 0, head h
    const float* dOh = dout + (size_t)b * T * q_ld + (size_t)h * kHS;
    const size_t row_h = ((size_t)b * s.NH + h) * T;  // lse / D row of query 0
    for (int qt = kt; qt < nt; ++qt) {
      const int q0 = qt * kTile, rows = min(kTile, T - q0);
      __syncthreads();  // every warp is done with the previous Q / dO tile (and K / V are published below)
      load_tile_bf16<kHS>(Qs, Qh + (size_t)q0 * q_ld, q_ld, rows);
      load_tile_bf16<kHS>(dOs, dOh + (size_t)q0 * q_ld, q_ld, rows);
      load_rows(lse_s, lse + row_h + q0, rows);
      load_rows(D_s, D + row_h + q0, rows);
      __syncthreads();

      // S^T[wrow:+16 keys, 0:64 queries] = K_w Q^T; P^T = exp(S^T*scale - lse_i), masked, fp32 in place of S^T
      // (each element read and rewritten by the same lane) and bf16 in the probability buffer
      scores_abt<kHS>(Ss + wrow * kLds, Ks + wrow * kLdb, Qs);
      __syncwarp();
#pragma unroll 8
      for (int e = 0; e < 32; ++e) {
        const int c = score_col(r, half, e), i = q0 + c;
        const float p = (i < T && j <= i) ? expf(srow[c] * s.scale - lse_s[c]) : 0.0f;
        srow[c] = p;
        prow[c] = __float2bfloat16_rn(p);
      }
      __syncwarp();
      // dV_w += P^T dO
      accumulate_ab<kHS>(dvf, Ps + wrow * kLdp, dOs);
      // dP^T[wrow:+16 keys, 0:64 queries] = V_w dO^T
      scores_abt<kHS>(dPs + wrow * kLds, Vs + wrow * kLdb, dOs);
      __syncwarp();  // dP^T visible to the lanes; every lane's P^T fragment loads are done
#pragma unroll 8
      for (int e = 0; e < 32; ++e) {
        const int c = score_col(r, half, e);
        prow[c] = __float2bfloat16_rn(srow[c] * (dprow[c] - D_s[c]));  // dS^T (0 where masked: P = 0)
      }
      __syncwarp();
      // dK_w += dS^T Q
      accumulate_ab<kHS>(dkf, Ps + wrow * kLdp, Qs);
    }
  }

  __syncthreads();  // every warp is done with the operand tiles: stage dV over K|V and dK over Q|dO
  float* stage_v = reinterpret_cast<float*>(smem);                          // [64][kLdo]
  float* stage_k = reinterpret_cast<float*>(smem + 2 * L::kOperandBytes);  // [64][kLdo]
#pragma unroll
  for (int n = 0; n < kHS / 16; ++n) {
    wmma::store_matrix_sync(stage_k + wrow * kLdo + n * 16, dkf[n], kLdo, wmma::mem_row_major);
    wmma::store_matrix_sync(stage_v + wrow * kLdo + n * 16, dvf[n], kLdo, wmma::mem_row_major);
  }
  __syncwarp();
  const size_t w_off = kv_off + (size_t)wrow * kv_ld;  // key row k0 + wrow
  add_rows<kHS>(dk + w_off, kv_ld, stage_k, wrow, k0 + wrow, T, s.scale);
  add_rows<kHS>(dv + w_off, kv_ld, stage_v, wrow, k0 + wrow, T, 1.0f);
}

// Backward dQ. Grid (nt, NH, B); CTA = query tile qt (latest first), head h, batch b.
template <int kHS>
__global__ void __launch_bounds__(kThreads)
    flash_backward_dq_kernel(float* __restrict__ dq, const float* __restrict__ dout, const float* __restrict__ q,
                             const float* __restrict__ k, const float* __restrict__ v,
                             const float* __restrict__ lse, const float* __restrict__ D, FlashShape s) {
  using L = Tiles<kHS>;
  constexpr int kLdb = L::kLdb, kLdo = L::kLdo;
  STRATA_DYNAMIC_SHARED(unsigned char, smem, 128);
  bfloat* Ks = reinterpret_cast<bfloat*>(smem);                         // [64][kLdb]
  bfloat* Vs = reinterpret_cast<bfloat*>(smem + L::kOperandBytes);      // [64][kLdb]
  bfloat* Qs = reinterpret_cast<bfloat*>(smem + 2 * L::kOperandBytes);  // [64][kLdb]
  bfloat* dOs = reinterpret_cast<bfloat*>(smem + 3 * L::kOperandBytes);  // [64][kLdb]
  unsigned char* rest = smem + 4 * L::kOperandBytes;
  float* Ss = reinterpret_cast<float*>(rest);                     // [64][kLds] S, then dP
  bfloat* Ps = reinterpret_cast<bfloat*>(rest + L::kScoreBytes);  // [64][kLdp] dS
  float* lse_s = reinterpret_cast<float*>(rest + L::kScoreBytes + L::kProbBytes);  // [64] per query row
  float* D_s = lse_s + kTile;                                                       // [64]

  const int T = s.T;
  const int qt = (int)(gridDim.x - 1 - blockIdx.x);
  const int h = (int)blockIdx.y, b = (int)blockIdx.z, kvh = h / s.group;
  const int q0 = qt * kTile, rows = min(kTile, T - q0);
  const int warp = (int)threadIdx.x >> 5, lane = (int)threadIdx.x & 31;
  const int wrow = warp * 16, r = lane >> 1, half = lane & 1;
  const int i = q0 + wrow + r;  // this lane's query row in the lane passes
  const size_t q_ld = (size_t)s.NH * kHS, kv_ld = (size_t)s.NKV * kHS;
  const size_t q_off = ((size_t)b * T + q0) * q_ld + (size_t)h * kHS;  // query row q0, head h
  const float* Kb = k + (size_t)b * T * kv_ld + (size_t)kvh * kHS;     // key row 0, kv head kvh
  const float* Vb = v + (size_t)b * T * kv_ld + (size_t)kvh * kHS;
  const size_t row_q0 = ((size_t)b * s.NH + h) * T + q0;  // lse / D row of query q0

  load_tile_bf16<kHS>(Qs, q + q_off, q_ld, rows);
  load_tile_bf16<kHS>(dOs, dout + q_off, q_ld, rows);
  load_rows(lse_s, lse + row_q0, rows);
  load_rows(D_s, D + row_q0, rows);
  __syncthreads();
  const float lse_i = lse_s[wrow + r], D_i = D_s[wrow + r];
  FragAcc dqf[kHS / 16];  // the warp's 16 query rows of dQ (unscaled)
#pragma unroll
  for (int n = 0; n < kHS / 16; ++n) wmma::fill_fragment(dqf[n], 0.0f);
  float* srow = Ss + (wrow + r) * kLds;
  bfloat* prow = Ps + (wrow + r) * kLdp;

  for (int kt = 0; kt <= qt; ++kt) {
    const int k0 = kt * kTile;
    __syncthreads();  // every warp is done with the previous K / V tile
    load_tile_bf16<kHS>(Ks, Kb + (size_t)k0 * kv_ld, kv_ld, min(kTile, T - k0));
    load_tile_bf16<kHS>(Vs, Vb + (size_t)k0 * kv_ld, kv_ld, min(kTile, T - k0));
    __syncthreads();

    // S[wrow:+16 queries, 0:64 keys] = Q_w K^T; P = exp(S*scale - lse_i), masked
    scores_abt<kHS>(Ss + wrow * kLds, Qs + wrow * kLdb, Ks);
    __syncwarp();
    float p[32];
#pragma unroll
    for (int e = 0; e < 32; ++e) {
      const int jj = k0 + score_col(r, half, e);
      p[e] = (i < T && jj <= i) ? expf(srow[score_col(r, half, e)] * s.scale - lse_i) : 0.0f;
    }
    __syncwarp();  // every lane has read S before dP overwrites it
    // dP[wrow:+16 queries, 0:64 keys] = dO_w V^T
    scores_abt<kHS>(Ss + wrow * kLds, dOs + wrow * kLdb, Vs);
    __syncwarp();
#pragma unroll
    for (int e = 0; e < 32; ++e) {
      const int c = score_col(r, half, e);
      prow[c] = __float2bfloat16_rn(p[e] * (srow[c] - D_i));  // dS (0 where masked: p = 0)
    }
    __syncwarp();
    // dQ_w += dS K
    accumulate_ab<kHS>(dqf, Ps + wrow * kLdp, Ks);
  }

  __syncthreads();  // every warp is done with K|V: stage dQ over them
  float* stage = reinterpret_cast<float*>(smem);  // [64][kLdo]
#pragma unroll
  for (int n = 0; n < kHS / 16; ++n)
    wmma::store_matrix_sync(stage + wrow * kLdo + n * 16, dqf[n], kLdo, wmma::mem_row_major);
  __syncwarp();
  add_rows<kHS>(dq + q_off + (size_t)wrow * q_ld, q_ld, stage, wrow, q0 + wrow, T, s.scale);
}


bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

// Shapes the tile grid handles (HS a multiple of 16 up to 128; grid y/z limits); pointers are checked separately.
bool flash_shape_supported(const AttentionShape& a) {
  return a.HS % 16 == 0 && a.HS <= 128 && a.NH <= 65535 && a.NKV <= 65535 && a.B <= 65535;
}

// The device's opt-in per-block shared-memory limit (queried per call: cheap, and no cached global state).
size_t smem_optin_limit(int device) {
  int v = 0;
  STRATA_CUDA_CHECK(cudaDeviceGetAttribute(&v, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  return (size_t)v;
}

// Lets `kernel` use `bytes` of dynamic shared memory; false (nothing changed) when the device has less.
template <typename Kernel>
bool allow_smem(Kernel kernel, size_t bytes, size_t limit) {
  if (bytes > limit) return false;
  if (bytes > 48 * 1024)
    STRATA_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes));
  return true;
}

// Calls f(std::integral_constant<int, HS>) for a supported head size; false for any other.
template <typename F>
bool with_head_size(int HS, F&& f) {
  switch (HS) {
    case 16: return f(std::integral_constant<int, 16>{});
    case 32: return f(std::integral_constant<int, 32>{});
    case 48: return f(std::integral_constant<int, 48>{});
    case 64: return f(std::integral_constant<int, 64>{});
    case 80: return f(std::integral_constant<int, 80>{});
    case 96: return f(std::integral_constant<int, 96>{});
    case 112: return f(std::integral_constant<int, 112>{});
    case 128: return f(std::integral_constant<int, 128>{});
    default: return false;
  }
}

}  // namespace

bool CudaBackend::flash_attention_forward_bf16(float* out, float* lse, const float* q, const float* k,
                                               const float* v, const AttentionShape& a) {
  const FlashShape s = attention_dims(a);
  if (!flash_shape_supported(a) || !aligned16(out) || !aligned16(q) || !aligned16(k) || !aligned16(v)) return false;
  const size_t limit = smem_optin_limit(device_);
  const unsigned nt = (unsigned)((s.T + kTile - 1) / kTile);
  return with_head_size(s.HS, [&](auto hs) {
    constexpr int kHS = decltype(hs)::value;
    const size_t bytes = Tiles<kHS>::kForwardBytes;
    if (!allow_smem(flash_forward_kernel<kHS>, bytes, limit)) return false;
    const dim3 grid(nt, (unsigned)s.NH, (unsigned)s.B);
    STRATA_LAUNCH(flash_forward_kernel<kHS>, grid, kThreads, bytes, stream())(out, lse, q, k, v, s);
    STRATA_CUDA_LAUNCH_CHECK("flash_forward_kernel");
    return true;
  });
}

bool CudaBackend::flash_attention_backward_bf16(float* dq, float* dk, float* dv, const float* dout, const float* q,
                                                const float* k, const float* v, const float* out,
                                                const float* lse, const AttentionShape& a) {
  const FlashShape s = attention_dims(a);
  if (!flash_shape_supported(a) || !aligned16(dq) || !aligned16(dk) || !aligned16(dv) || !aligned16(dout) ||
      !aligned16(q) || !aligned16(k) || !aligned16(v))
    return false;
  const size_t limit = smem_optin_limit(device_);
  const unsigned nt = (unsigned)((s.T + kTile - 1) / kTile);
  const size_t rows = (size_t)s.B * s.NH * s.T;
  return with_head_size(s.HS, [&](auto hs) {
    constexpr int kHS = decltype(hs)::value;
    const size_t bytes_kv = Tiles<kHS>::kDkvBytes, bytes_q = Tiles<kHS>::kDqBytes;
    if (!allow_smem(flash_backward_dkv_kernel<kHS>, bytes_kv, limit) ||
        !allow_smem(flash_backward_dq_kernel<kHS>, bytes_q, limit))
      return false;
    float* D = static_cast<float*>(scratch(sizeof(float) * rows));  // [B,NH,T]

    const int rd_threads = std::min(256, max_threads_per_block_);
    const size_t rd_blocks = (rows * 32 + rd_threads - 1) / rd_threads;
    STRATA_CHECK(rd_blocks <= 0x7fffffffu, "attention_backward: B*NH*T too large for one CUDA grid");
    STRATA_LAUNCH(flash_rowdot_kernel, (unsigned)rd_blocks, rd_threads, 0, stream())(D, dout, out, s);
    STRATA_CUDA_LAUNCH_CHECK("flash_rowdot_kernel");

    const dim3 grid_kv(nt, (unsigned)s.NKV, (unsigned)s.B);
    STRATA_LAUNCH(flash_backward_dkv_kernel<kHS>, grid_kv, kThreads, bytes_kv, stream())
    (dk, dv, dout, q, k, v, lse, D, s);
    STRATA_CUDA_LAUNCH_CHECK("flash_backward_dkv_kernel");
    const dim3 grid_q(nt, (unsigned)s.NH, (unsigned)s.B);
    STRATA_LAUNCH(flash_backward_dq_kernel<kHS>, grid_q, kThreads, bytes_q, stream())(dq, dout, q, k, v, lse, D, s);
    STRATA_CUDA_LAUNCH_CHECK("flash_backward_dq_kernel");
    return true;
  });
}

}  // namespace strata::STRATA_CUDA_NS
