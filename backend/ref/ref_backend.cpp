// Reference op implementations: literal math in double precision, one thread, written for clarity.
// Attention materialises the full probability matrix per row, unlike the optimised backends.
#include "backend/ref/ref_backend.h"
#include "core/dtype_convert.h"

#include <cmath>
#include <vector>

namespace strata {

void RefBackend::embedding_forward(float* out, const int32_t* tokens, const float* table, int N, int C, int) {
  for (int n = 0; n < N; ++n)
    for (int c = 0; c < C; ++c) out[(size_t)n * C + c] = table[(size_t)tokens[n] * C + c];
}

void RefBackend::embedding_backward(float* dtable, const float* dout, const int32_t* tokens, int N, int C, int) {
  for (int n = 0; n < N; ++n)
    for (int c = 0; c < C; ++c) dtable[(size_t)tokens[n] * C + c] += dout[(size_t)n * C + c];
}

void RefBackend::rmsnorm_forward(float* out, float* rstd, const float* x, const float* w, int N, int C, float eps) {
  for (int n = 0; n < N; ++n) {
    double ss = 0;
    for (int c = 0; c < C; ++c) ss += (double)x[(size_t)n * C + c] * x[(size_t)n * C + c];
    const double r = 1.0 / std::sqrt(ss / C + eps);
    rstd[n] = (float)r;
    for (int c = 0; c < C; ++c) out[(size_t)n * C + c] = (float)(w[c] * (x[(size_t)n * C + c] * r));
  }
}

void RefBackend::rmsnorm_backward(float* dx, float* dw, const float* dout, const float* x, const float* w,
                                  const float* rstd, int N, int C) {
  for (int n = 0; n < N; ++n) {
    const float* xr = x + (size_t)n * C;
    const float* g = dout + (size_t)n * C;
    const double r = rstd[n];
    double dot = 0;
    for (int c = 0; c < C; ++c) dot += (double)w[c] * g[c] * xr[c];
    for (int c = 0; c < C; ++c) {
      if (dx) dx[(size_t)n * C + c] += (float)(r * w[c] * g[c] - r * r * r * xr[c] * dot / C);
      if (dw) dw[c] += (float)((double)g[c] * xr[c] * r);
    }
  }
}

void RefBackend::linear_forward(float* out, const float* x, const float* w, int N, int IC, int OC) {
  for (int n = 0; n < N; ++n)
    for (int o = 0; o < OC; ++o) {
      double s = 0;
      for (int i = 0; i < IC; ++i) s += (double)x[(size_t)n * IC + i] * w[(size_t)o * IC + i];
      out[(size_t)n * OC + o] = (float)s;
    }
}

void RefBackend::linear_backward(float* dx, float* dw, const float* dout, const float* x, const float* w, int N,
                                 int IC, int OC) {
  if (dx)
    for (int n = 0; n < N; ++n)
      for (int i = 0; i < IC; ++i) {
        double s = 0;
        for (int o = 0; o < OC; ++o) s += (double)dout[(size_t)n * OC + o] * w[(size_t)o * IC + i];
        dx[(size_t)n * IC + i] += (float)s;
      }
  if (dw)
    for (int o = 0; o < OC; ++o)
      for (int i = 0; i < IC; ++i) {
        double s = 0;
        for (int n = 0; n < N; ++n) s += (double)dout[(size_t)n * OC + o] * x[(size_t)n * IC + i];
        dw[(size_t)o * IC + i] += (float)s;
      }
}

static void ref_rope(float* out, const float* in, const int32_t* pos, int B, int T, int H, int HS, float theta,
                     double sign) {
  const int half = HS / 2;
  for (int bt = 0; bt < B * T; ++bt) {
    const double p = pos ? pos[bt] : bt % T;
    for (int h = 0; h < H; ++h) {
      const float* x = in + ((size_t)bt * H + h) * HS;
      float* o = out + ((size_t)bt * H + h) * HS;
      for (int i = 0; i < half; ++i) {
        const double f = p * (double)rope_inv_freq(i, HS, theta);
        const double c = std::cos(f), s = sign * std::sin(f);
        const double x1 = x[i], x2 = x[i + half];
        o[i] = (float)(x1 * c - x2 * s);
        o[i + half] = (float)(x2 * c + x1 * s);
      }
    }
  }
}

void RefBackend::rope_forward(float* out, const float* in, const int32_t* pos, int B, int T, int H, int HS,
                              float theta) {
  ref_rope(out, in, pos, B, T, H, HS, theta, 1.0);
}

void RefBackend::rope_backward(float* din, const float* dout, const int32_t* pos, int B, int T, int H, int HS,
                               float theta) {
  ref_rope(din, dout, pos, B, T, H, HS, theta, -1.0);
}

// Probabilities of query row (b, h, t) over keys 0..t, in double.
static void ref_probs(std::vector<double>& p, double& lse, const float* q, const float* k, const AttentionShape& s,
                      int b, int h, int t) {
  const int kvh = h / (s.NH / s.NKV);
  const double scale = 1.0 / std::sqrt((double)s.HS);
  const float* qt = q + (((size_t)b * s.T + t) * s.NH + h) * s.HS;
  double m = -INFINITY;
  for (int j = 0; j <= t; ++j) {
    const float* kj = k + (((size_t)b * s.T + j) * s.NKV + kvh) * s.HS;
    double d = 0;
    for (int e = 0; e < s.HS; ++e) d += (double)qt[e] * kj[e];
    p[j] = d * scale;
    m = std::max(m, p[j]);
  }
  double sum = 0;
  for (int j = 0; j <= t; ++j) sum += std::exp(p[j] - m);
  lse = m + std::log(sum);
  for (int j = 0; j <= t; ++j) p[j] = std::exp(p[j] - lse);
}

void RefBackend::attention_forward(float* out, float* lse, const float* q, const float* k, const float* v,
                                   const AttentionShape& s) {
  if (s.bf16_inputs) {
    std::vector<float> storage(rounded_qkv_floats(s.B, s.T, s.NH, s.NKV, s.HS));  // the oracle: not accounted
    const RoundedQkv r(storage.data(), q, k, v, s);
    return attention_forward(out, lse, r.q, r.k, r.v, r.exact);
  }
  std::vector<double> p(s.T);
  for (int b = 0; b < s.B; ++b)
    for (int h = 0; h < s.NH; ++h)
      for (int t = 0; t < s.T; ++t) {
        double L;
        ref_probs(p, L, q, k, s, b, h, t);
        lse[((size_t)b * s.NH + h) * s.T + t] = (float)L;
        const int kvh = h / (s.NH / s.NKV);
        for (int e = 0; e < s.HS; ++e) {
          double acc = 0;
          for (int j = 0; j <= t; ++j) acc += p[j] * v[(((size_t)b * s.T + j) * s.NKV + kvh) * s.HS + e];
          out[(((size_t)b * s.T + t) * s.NH + h) * s.HS + e] = (float)acc;
        }
      }
}

// Literal cached attention in double: store, then each query's softmax over the positions it sees.
void RefBackend::attention_cached(float* out, const float* q, const float* k_new, const float* v_new, void* k_cache,
                                  void* v_cache, const int32_t* pos, const CachedAttentionShape& s) {
  check_cached_attention_positions(pos, s);
  auto cache_at = [&](void* c, size_t i) -> double {
    return s.bf16_cache ? bf16_to_f32(static_cast<const bf16*>(c)[i]) : static_cast<const float*>(c)[i];
  };
  const size_t row = (size_t)s.NKV * s.HS;
  for (int i = 0; i < s.B * s.Tq; ++i)
    for (size_t e = 0; e < row; ++e) {
      const size_t dst = ((size_t)(i / s.Tq) * s.S + pos[i]) * row + e, src = (size_t)i * row + e;
      if (s.bf16_cache) {
        static_cast<bf16*>(k_cache)[dst] = f32_to_bf16(k_new[src]);
        static_cast<bf16*>(v_cache)[dst] = f32_to_bf16(v_new[src]);
      } else {
        static_cast<float*>(k_cache)[dst] = k_new[src];
        static_cast<float*>(v_cache)[dst] = v_new[src];
      }
    }
  const double scale = 1.0 / std::sqrt((double)s.HS);
  std::vector<double> p(s.S);
  for (int bt = 0; bt < s.B * s.Tq; ++bt)
    for (int h = 0; h < s.NH; ++h) {
      const int b = bt / s.Tq, last = pos[bt], kvh = h / (s.NH / s.NKV);
      const float* qt = q + ((size_t)bt * s.NH + h) * s.HS;
      auto cache_off = [&](int j) { return (((size_t)b * s.S + j) * s.NKV + kvh) * s.HS; };
      double m = -INFINITY;
      for (int j = 0; j <= last; ++j) {
        double d = 0;
        for (int e = 0; e < s.HS; ++e) {
          const double qe = s.bf16_cache ? bf16_to_f32(f32_to_bf16(qt[e])) : qt[e];
          d += qe * cache_at(k_cache, cache_off(j) + e);
        }
        p[j] = d * scale;
        m = std::max(m, p[j]);
      }
      double sum = 0;
      for (int j = 0; j <= last; ++j) sum += (p[j] = std::exp(p[j] - m));
      for (int e = 0; e < s.HS; ++e) {
        double acc = 0;
        for (int j = 0; j <= last; ++j) acc += p[j] * cache_at(v_cache, cache_off(j) + e);
        out[((size_t)bt * s.NH + h) * s.HS + e] = (float)(acc / sum);
      }
    }
}

void RefBackend::attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q,
                                    const float* k, const float* v, const float* out, const float* lse,
                                    const AttentionShape& s) {
  if (s.bf16_inputs) {  // straight-through: the gradient of the rounding is the identity
    std::vector<float> storage(rounded_qkv_floats(s.B, s.T, s.NH, s.NKV, s.HS));  // the oracle: not accounted
    const RoundedQkv r(storage.data(), q, k, v, s);
    return attention_backward(dq, dk, dv, dout, r.q, r.k, r.v, out, lse, r.exact);
  }
  const double scale = 1.0 / std::sqrt((double)s.HS);
  std::vector<double> p(s.T), dp(s.T);
  for (int b = 0; b < s.B; ++b)
    for (int h = 0; h < s.NH; ++h)
      for (int t = 0; t < s.T; ++t) {
        double L;
        ref_probs(p, L, q, k, s, b, h, t);
        const int kvh = h / (s.NH / s.NKV);
        const size_t qo = (((size_t)b * s.T + t) * s.NH + h) * s.HS;
        double D = 0;  // sum_j p_j dp_j
        for (int j = 0; j <= t; ++j) {
          const size_t ko = (((size_t)b * s.T + j) * s.NKV + kvh) * s.HS;
          double d = 0;
          for (int e = 0; e < s.HS; ++e) d += (double)dout[qo + e] * v[ko + e];
          dp[j] = d;
          D += p[j] * d;
        }
        for (int j = 0; j <= t; ++j) {
          const size_t ko = (((size_t)b * s.T + j) * s.NKV + kvh) * s.HS;
          const double dsj = p[j] * (dp[j] - D) * scale;
          for (int e = 0; e < s.HS; ++e) {
            dq[qo + e] += (float)(dsj * k[ko + e]);
            dk[ko + e] += (float)(dsj * q[qo + e]);
            dv[ko + e] += (float)(p[j] * dout[qo + e]);
          }
        }
      }
}

void RefBackend::swiglu_forward(float* out, const float* gate, const float* up, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const double g = gate[i];
    out[i] = (float)(g / (1.0 + std::exp(-g)) * up[i]);
  }
}

void RefBackend::swiglu_backward(float* dgate, float* dup, const float* dout, const float* gate, const float* up,
                                 size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const double g = gate[i], sg = 1.0 / (1.0 + std::exp(-g));
    dgate[i] += (float)(dout[i] * up[i] * (sg + g * sg * (1.0 - sg)));
    dup[i] += (float)(dout[i] * g * sg);
  }
}

void RefBackend::add(float* out, const float* a, const float* b, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

static double ref_lse(const float* l, int V) {
  double m = -INFINITY, s = 0;
  for (int v = 0; v < V; ++v) m = std::max(m, (double)l[v]);
  for (int v = 0; v < V; ++v) s += std::exp(l[v] - m);
  return m + std::log(s);
}

void RefBackend::cross_entropy_forward(float* losses, const float* logits, const int32_t* targets, int N, int V,
                                       int ignore_index) {
  for (int n = 0; n < N; ++n)
    losses[n] = targets[n] == ignore_index ? 0.0f
                                           : (float)(ref_lse(logits + (size_t)n * V, V) - logits[(size_t)n * V + targets[n]]);
}

void RefBackend::cross_entropy_backward(float* dlogits, const float* logits, const int32_t* targets, float scale,
                                        int N, int V, int ignore_index) {
  std::vector<double> row(V);
  for (int n = 0; n < N; ++n) {
    const float* l = logits + (size_t)n * V;
    const double L = ref_lse(l, V);
    for (int v = 0; v < V; ++v) row[v] = targets[n] == ignore_index ? 0.0 : scale * (std::exp(l[v] - L) - (v == targets[n]));
    for (int v = 0; v < V; ++v) dlogits[(size_t)n * V + v] = (float)row[v];
  }
}

}  // namespace strata

namespace strata {

void RefBackend::adamw_update(float* p, const float* g, float* m, float* v, size_t n, const AdamWStep& s) {
  const double bc1 = 1.0 - std::pow((double)s.beta1, (double)s.step);
  const double bc2 = 1.0 - std::pow((double)s.beta2, (double)s.step);
  for (size_t i = 0; i < n; ++i) {
    const double gi = (double)g[i] * s.grad_scale;
    const double mi = s.beta1 * (double)m[i] + (1.0 - s.beta1) * gi;
    const double vi = s.beta2 * (double)v[i] + (1.0 - s.beta2) * gi * gi;
    m[i] = (float)mi;
    v[i] = (float)vi;
    const double pi = (double)p[i] * (1.0 - (double)s.lr * s.weight_decay);
    p[i] = (float)(pi - (s.lr / bc1) * mi / (std::sqrt(vi) / std::sqrt(bc2) + s.eps));
  }
}

double RefBackend::sum_squares(const float* x, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += (double)x[i] * x[i];
  return s;
}

void RefBackend::adamw_update_bf16(float* master, bf16* param, const bf16* grad, float* m, float* v, size_t n,
                                   const AdamWStep& s) {
  std::vector<float> g(n);
  for (size_t i = 0; i < n; ++i) g[i] = bf16_to_f32(grad[i]);
  adamw_update(master, g.data(), m, v, n, s);
  for (size_t i = 0; i < n; ++i) param[i] = f32_to_bf16(master[i]);
}

double RefBackend::sum_squares_bf16(const bf16* x, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += (double)bf16_to_f32(x[i]) * bf16_to_f32(x[i]);
  return s;
}

}  // namespace strata
