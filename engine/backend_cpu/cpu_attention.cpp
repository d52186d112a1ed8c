// Causal grouped-query attention on the CPU, flash-style: the forward keeps only the row logsumexp, and the
// backward recomputes probabilities from it, so no [T,T] score matrix is stored between passes.
#include <cmath>
#include <vector>

#include "engine/backend_cpu/cpu_backend.h"

namespace strata {

static inline float dot(const float* a, const float* b, int n) {
  float s = 0.0f;
#pragma omp simd reduction(+ : s)
  for (int i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

void CpuBackend::attention_forward(float* out, float* lse, const float* q, const float* k, const float* v,
                                   const AttentionShape& s) {
  const int B = s.B, T = s.T, NH = s.NH, NKV = s.NKV, HS = s.HS;
  const int group = NH / NKV;
  const float scale = 1.0f / std::sqrt((float)HS);
  const size_t q_row = (size_t)NH * HS, kv_row = (size_t)NKV * HS;
#pragma omp parallel
  {
    std::vector<float> p(T);
#pragma omp for collapse(2) schedule(dynamic, 1)
    for (int bh = 0; bh < B * NH; ++bh) {
      for (int t = 0; t < T; ++t) {
        const int b = bh / NH, h = bh % NH, kvh = h / group;
        const float* qt = q + ((size_t)b * T + t) * q_row + (size_t)h * HS;
        const float* kb = k + (size_t)b * T * kv_row + (size_t)kvh * HS;
        const float* vb = v + (size_t)b * T * kv_row + (size_t)kvh * HS;
        float m = -INFINITY;
        for (int j = 0; j <= t; ++j) {
          p[j] = dot(qt, kb + (size_t)j * kv_row, HS) * scale;
          m = p[j] > m ? p[j] : m;
        }
        float sum = 0.0f;
        for (int j = 0; j <= t; ++j) {
          p[j] = std::exp(p[j] - m);
          sum += p[j];
        }
        const float inv = 1.0f / sum;
        float* ot = out + ((size_t)b * T + t) * q_row + (size_t)h * HS;
        for (int d = 0; d < HS; ++d) ot[d] = 0.0f;
        for (int j = 0; j <= t; ++j) {
          const float pj = p[j] * inv;
          const float* vj = vb + (size_t)j * kv_row;
#pragma omp simd
          for (int d = 0; d < HS; ++d) ot[d] += pj * vj[d];
        }
        lse[((size_t)b * NH + h) * T + t] = m + std::log(sum);
      }
    }
  }
}

void CpuBackend::attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q,
                                    const float* k, const float* v, const float* out, const float* lse,
                                    const AttentionShape& s) {
  const int B = s.B, T = s.T, NH = s.NH, NKV = s.NKV, HS = s.HS;
  const int group = NH / NKV;
  const float scale = 1.0f / std::sqrt((float)HS);
  const size_t q_row = (size_t)NH * HS, kv_row = (size_t)NKV * HS;
  // One task per (batch, kv head): it owns that head's dk/dv rows, so accumulation order is fixed.
#pragma omp parallel
  {
    std::vector<float> ds(T);
#pragma omp for schedule(dynamic, 1)
    for (int bk = 0; bk < B * NKV; ++bk) {
      const int b = bk / NKV, kvh = bk % NKV;
      const float* kb = k + (size_t)b * T * kv_row + (size_t)kvh * HS;
      const float* vb = v + (size_t)b * T * kv_row + (size_t)kvh * HS;
      float* dkb = dk + (size_t)b * T * kv_row + (size_t)kvh * HS;
      float* dvb = dv + (size_t)b * T * kv_row + (size_t)kvh * HS;
      for (int h = kvh * group; h < (kvh + 1) * group; ++h) {
        for (int t = 0; t < T; ++t) {
          const size_t qoff = ((size_t)b * T + t) * q_row + (size_t)h * HS;
          const float* qt = q + qoff;
          const float* gt = dout + qoff;
          const float L = lse[((size_t)b * NH + h) * T + t];
          const float D = dot(gt, out + qoff, HS);
          float* dqt = dq + qoff;
          for (int j = 0; j <= t; ++j) {
            const float pj = std::exp(dot(qt, kb + (size_t)j * kv_row, HS) * scale - L);
            const float dp = dot(gt, vb + (size_t)j * kv_row, HS);
            ds[j] = pj * (dp - D) * scale;
            float* dvj = dvb + (size_t)j * kv_row;
#pragma omp simd
            for (int d = 0; d < HS; ++d) dvj[d] += pj * gt[d];
          }
          for (int j = 0; j <= t; ++j) {
            const float* kj = kb + (size_t)j * kv_row;
            float* dkj = dkb + (size_t)j * kv_row;
            const float dsj = ds[j];
#pragma omp simd
            for (int d = 0; d < HS; ++d) {
              dqt[d] += dsj * kj[d];
              dkj[d] += dsj * qt[d];
            }
          }
        }
      }
    }
  }
}

}  // namespace strata
