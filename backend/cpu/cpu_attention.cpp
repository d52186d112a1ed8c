// Causal grouped-query attention on the CPU, flash-style: the forward keeps only the row logsumexp, and the
// backward recomputes probabilities from it, so no [T,T] matrix outlives a call. Work is tiled by blocks of
// kQBlock query rows; each tile's score, probability and gradient products are single-threaded sgemm calls.
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/cpu_vector_math.h"
#include "core/dtype_convert.h"

namespace strata {

namespace {

constexpr int kQBlock = 64;

// S[bs, n_keys] = scale * Q_blk[bs, HS] @ K[n_keys, HS]^T, masked causally (query t0+i sees keys 0..t0+i), then
// turned into probabilities with the row logsumexp: either computed (lse_out) or given (lse_in).
void scores_to_probs(float* S, const float* Qb, const float* Kb, int bs, int n_keys, int t0, int HS, size_t q_ld,
                     size_t kv_ld, float scale, float* lse_out, const float* lse_in) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bs, n_keys, HS, scale, Qb, (int)q_ld, Kb, (int)kv_ld, 0.0f, S,
              n_keys);
  for (int i = 0; i < bs; ++i) {
    float* row = S + (size_t)i * n_keys;
    const int visible = t0 + i + 1;  // keys 0..t0+i
    float L;
    if (lse_in) {
      L = lse_in[i];
    } else {
      float m = row[0];
#pragma omp simd reduction(max : m)
      for (int j = 1; j < visible; ++j) m = row[j] > m ? row[j] : m;
      float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
      for (int j = 0; j < visible; ++j) sum += exp_vec(row[j] - m);
      L = m + std::log(sum);
      lse_out[i] = L;
    }
#pragma omp simd
    for (int j = 0; j < visible; ++j) row[j] = exp_vec(row[j] - L);
    for (int j = visible; j < n_keys; ++j) row[j] = 0.0f;
  }
}

}  // namespace

RoundedQkv::RoundedQkv(float* storage, const float* q_in, const float* k_in, const float* v_in,
                       const AttentionShape& s)
    : exact(s) {
  const size_t nq = (size_t)s.B * s.T * s.NH * s.HS, nkv = (size_t)s.B * s.T * s.NKV * s.HS;
  auto round_into = [](float* dst, const float* src, size_t n) {
    for (size_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(f32_to_bf16(src[i]));
  };
  round_into(storage, q_in, nq);
  round_into(storage + nq, k_in, nkv);
  round_into(storage + nq + nkv, v_in, nkv);
  q = storage;
  k = q + nq;
  v = k + nkv;
  exact.bf16_inputs = false;
}

void CpuBackend::attention_forward(float* out, float* lse, const float* q, const float* k, const float* v,
                                   const AttentionShape& s) {
  if (s.bf16_inputs && bf16_gemm_on_onednn()) return attention_forward_bf16_units(out, lse, q, k, v, s);
  if (s.bf16_inputs) {
    const RoundedQkv r(op_scratch(rounded_qkv_floats(s.B, s.T, s.NH, s.NKV, s.HS)), q, k, v, s);
    return attention_forward(out, lse, r.q, r.k, r.v, r.exact);
  }
  const int B = s.B, T = s.T, NH = s.NH, NKV = s.NKV, HS = s.HS;
  const int group = NH / NKV;
  const float scale = 1.0f / std::sqrt((float)HS);
  const size_t q_ld = (size_t)NH * HS, kv_ld = (size_t)NKV * HS;
  const int nqb = (T + kQBlock - 1) / kQBlock;
#pragma omp parallel if ((size_t)B * NH * T * T * HS >= kParallelMinWork)
  {
    std::vector<float> S((size_t)kQBlock * T);
#pragma omp for schedule(dynamic, 1)
    for (int task = nqb * B * NH - 1; task >= 0; --task) {  // largest (latest) query blocks first
      const int qb = task % nqb, bh = task / nqb, b = bh / NH, h = bh % NH, kvh = h / group;
      const int t0 = qb * kQBlock, bs = std::min(kQBlock, T - t0), n_keys = t0 + bs;
      const float* Qb = q + ((size_t)b * T + t0) * q_ld + (size_t)h * HS;
      const float* Kb = k + (size_t)b * T * kv_ld + (size_t)kvh * HS;
      const float* Vb = v + (size_t)b * T * kv_ld + (size_t)kvh * HS;
      scores_to_probs(S.data(), Qb, Kb, bs, n_keys, t0, HS, q_ld, kv_ld, scale,
                      lse + ((size_t)b * NH + h) * T + t0, nullptr);
      // O_blk[bs, HS] = P[bs, n_keys] @ V[n_keys, HS]
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, bs, HS, n_keys, 1.0f, S.data(), n_keys, Vb, (int)kv_ld,
                  0.0f, out + ((size_t)b * T + t0) * q_ld + (size_t)h * HS, (int)q_ld);
    }
  }
}

void CpuBackend::attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q,
                                    const float* k, const float* v, const float* out, const float* lse,
                                    const AttentionShape& s) {
  if (s.bf16_inputs && bf16_gemm_on_onednn())
    return attention_backward_bf16_units(dq, dk, dv, dout, q, k, v, out, lse, s);
  if (s.bf16_inputs) {  // the rounding's gradient passes straight through (as a cast's does in PyTorch)
    const RoundedQkv r(op_scratch(rounded_qkv_floats(s.B, s.T, s.NH, s.NKV, s.HS)), q, k, v, s);
    return attention_backward(dq, dk, dv, dout, r.q, r.k, r.v, out, lse, r.exact);
  }
  const int B = s.B, T = s.T, NH = s.NH, NKV = s.NKV, HS = s.HS;
  const int group = NH / NKV;
  const float scale = 1.0f / std::sqrt((float)HS);
  const size_t q_ld = (size_t)NH * HS, kv_ld = (size_t)NKV * HS;
  const int nqb = (T + kQBlock - 1) / kQBlock;
  // One task per (batch, kv head): it owns that head's dk/dv rows, so the accumulation order is fixed.
#pragma omp parallel if ((size_t)B * NH * T * T * HS >= kParallelMinWork)
  {
    std::vector<float> P((size_t)kQBlock * T), dP((size_t)kQBlock * T);
#pragma omp for schedule(dynamic, 1)
    for (int bk = 0; bk < B * NKV; ++bk) {
      const int b = bk / NKV, kvh = bk % NKV;
      const float* Kb = k + (size_t)b * T * kv_ld + (size_t)kvh * HS;
      const float* Vb = v + (size_t)b * T * kv_ld + (size_t)kvh * HS;
      float* dKb = dk + (size_t)b * T * kv_ld + (size_t)kvh * HS;
      float* dVb = dv + (size_t)b * T * kv_ld + (size_t)kvh * HS;
      for (int h = kvh * group; h < (kvh + 1) * group; ++h) {
        for (int qb = 0; qb < nqb; ++qb) {
          const int t0 = qb * kQBlock, bs = std::min(kQBlock, T - t0), n_keys = t0 + bs;
          const size_t qoff = ((size_t)b * T + t0) * q_ld + (size_t)h * HS;
          const float* Qb = q + qoff;
          const float* dOb = dout + qoff;
          const float* Ob = out + qoff;
          scores_to_probs(P.data(), Qb, Kb, bs, n_keys, t0, HS, q_ld, kv_ld, scale, nullptr,
                          lse + ((size_t)b * NH + h) * T + t0);
          // dV[n_keys, HS] += P^T @ dO_blk
          cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n_keys, HS, bs, 1.0f, P.data(), n_keys, dOb, (int)q_ld,
                      1.0f, dVb, (int)kv_ld);
          // dP[bs, n_keys] = dO_blk @ V^T
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bs, n_keys, HS, 1.0f, dOb, (int)q_ld, Vb, (int)kv_ld,
                      0.0f, dP.data(), n_keys);
          // dS = P * (dP - D) * scale, D_i = sum_d dO_i,d * O_i,d (= sum_j P_ij dP_ij)
          for (int i = 0; i < bs; ++i) {
            const float* o = Ob + (size_t)i * q_ld;
            const float* g = dOb + (size_t)i * q_ld;
            float d = 0.0f;
#pragma omp simd reduction(+ : d)
            for (int e = 0; e < HS; ++e) d += o[e] * g[e];
            float* ds = dP.data() + (size_t)i * n_keys;
            const float* p = P.data() + (size_t)i * n_keys;
            const int visible = t0 + i + 1;
#pragma omp simd
            for (int j = 0; j < visible; ++j) ds[j] = p[j] * (ds[j] - d) * scale;
            for (int j = visible; j < n_keys; ++j) ds[j] = 0.0f;
          }
          // dQ_blk[bs, HS] += dS @ K ; dK[n_keys, HS] += dS^T @ Q_blk
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, bs, HS, n_keys, 1.0f, dP.data(), n_keys, Kb,
                      (int)kv_ld, 1.0f, dq + qoff, (int)q_ld);
          cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n_keys, HS, bs, 1.0f, dP.data(), n_keys, Qb, (int)q_ld,
                      1.0f, dKb, (int)kv_ld);
        }
      }
    }
  }
}

}  // namespace strata
