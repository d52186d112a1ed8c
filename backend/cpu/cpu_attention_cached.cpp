// Cached causal GQA attention on the CPU (generation): new keys and values go into the per-row cache at their
// positions, then every (row, query, head) is one independent softmax over the cached positions it may see.
#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/cpu_vector_math.h"
#include "core/check.h"
#include "core/dtype_convert.h"

namespace strata {

namespace {

// Reads row j (HS values) of a cache of either dtype as fp32.
struct CacheRow {
  const void* base;
  bool is_bf16;
  size_t offset(int b, int j, int kvh, const CachedAttentionShape& s) const {
    return (((size_t)b * s.S + j) * s.NKV + kvh) * s.HS;
  }
  float at(size_t off, int e) const {
    return is_bf16 ? bf16_to_f32(static_cast<const bf16*>(base)[off + e]) : static_cast<const float*>(base)[off + e];
  }
};

}  // namespace

void check_cached_attention_positions(const int32_t* pos, const CachedAttentionShape& s) {
  for (int i = 0; i < s.B * s.Tq; ++i)
    STRATA_CHECK(pos[i] >= 0 && pos[i] < s.S, "attention_cached: position " + std::to_string(pos[i]) + " of row " +
                                                   std::to_string(i / s.Tq) + " is outside the cache of " +
                                                   std::to_string(s.S) + " positions");
}

void CpuBackend::attention_cached(float* out, const float* q, const float* k_new, const float* v_new, void* k_cache,
                                  void* v_cache, const int32_t* pos, const CachedAttentionShape& s) {
  check_cached_attention_positions(pos, s);
  const size_t row = (size_t)s.NKV * s.HS;
  // Store: one (b, t) row of NKV*HS values each.
  for (int i = 0; i < s.B * s.Tq; ++i) {
    const size_t dst = ((size_t)(i / s.Tq) * s.S + pos[i]) * row, src = (size_t)i * row;
    if (s.bf16_cache) {
      bf16* kd = static_cast<bf16*>(k_cache) + dst;
      bf16* vd = static_cast<bf16*>(v_cache) + dst;
      for (size_t e = 0; e < row; ++e) {
        kd[e] = f32_to_bf16(k_new[src + e]);
        vd[e] = f32_to_bf16(v_new[src + e]);
      }
    } else {
      std::copy_n(k_new + src, row, static_cast<float*>(k_cache) + dst);
      std::copy_n(v_new + src, row, static_cast<float*>(v_cache) + dst);
    }
  }
  const CacheRow K{k_cache, s.bf16_cache}, Vc{v_cache, s.bf16_cache};
  const float scale = 1.0f / std::sqrt((float)s.HS);
  const int group = s.NH / s.NKV, items = s.B * s.Tq * s.NH;
#pragma omp parallel
  {
    std::vector<float> p(s.S), qv(s.HS), acc(s.HS);  // per thread: S + 2 HS floats
#pragma omp for schedule(static)
    for (int it = 0; it < items; ++it) {
      const int h = it % s.NH, bt = it / s.NH, b = bt / s.Tq, last = pos[bt], kvh = h / group;
      const float* qrow = q + ((size_t)bt * s.NH + h) * s.HS;
      for (int e = 0; e < s.HS; ++e) qv[e] = s.bf16_cache ? bf16_to_f32(f32_to_bf16(qrow[e])) : qrow[e];
      float m = -INFINITY;
      for (int j = 0; j <= last; ++j) {
        const size_t off = K.offset(b, j, kvh, s);
        float d = 0.0f;
        for (int e = 0; e < s.HS; ++e) d += qv[e] * K.at(off, e);
        p[j] = d * scale;
        m = std::max(m, p[j]);
      }
      float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
      for (int j = 0; j <= last; ++j) sum += (p[j] = exp_vec(p[j] - m));
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (int j = 0; j <= last; ++j) {
        const size_t off = Vc.offset(b, j, kvh, s);
        for (int e = 0; e < s.HS; ++e) acc[e] += p[j] * Vc.at(off, e);
      }
      float* o = out + ((size_t)bt * s.NH + h) * s.HS;
      for (int e = 0; e < s.HS; ++e) o[e] = acc[e] / sum;
    }
  }
}

}  // namespace strata
