// Cross-entropy over the vocabulary on the CPU: per-row loss (forward) and softmax-minus-onehot (backward).
// Rows whose target is the ignore index contribute 0 loss and 0 gradient; backward may run in place on logits.
#include <cmath>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/cpu_vector_math.h"

namespace strata {

// The row's max m and log(sum_v e^(l_v - m)). The terms lie in (0, 1] and one of them is 1; they are summed in float
// lanes (a vector's worth of partial sums, then those), whose rounding stays far below the parity bounds.
struct RowLse {
  float m;
  double log_sum;
};
static RowLse row_logsumexp(const float* l, int V) {
  float m = l[0];
#pragma omp simd reduction(max : m)
  for (int v = 1; v < V; ++v) m = l[v] > m ? l[v] : m;
  float s = 0.0f;
#pragma omp simd reduction(+ : s)
  for (int v = 0; v < V; ++v) s += exp_vec(l[v] - m);
  return {m, std::log((double)s)};
}

void CpuBackend::cross_entropy_forward(float* losses, const float* logits, const int32_t* targets, int N, int V,
                                       int ignore_index) {
#pragma omp parallel for schedule(static) if ((size_t)N * V >= kParallelMinWork)
  for (int n = 0; n < N; ++n) {
    if (targets[n] == ignore_index) {
      losses[n] = 0.0f;
      continue;
    }
    const float* l = logits + (size_t)n * V;
    const RowLse r = row_logsumexp(l, V);
    losses[n] = (float)(((double)r.m - l[targets[n]]) + r.log_sum);
  }
}

void CpuBackend::cross_entropy_backward(float* dlogits, const float* logits, const int32_t* targets, float scale,
                                        int N, int V, int ignore_index) {
#pragma omp parallel for schedule(static) if ((size_t)N * V >= kParallelMinWork)
  for (int n = 0; n < N; ++n) {
    const float* l = logits + (size_t)n * V;
    float* d = dlogits + (size_t)n * V;
    const int t = targets[n];
    if (t == ignore_index) {
      for (int v = 0; v < V; ++v) d[v] = 0.0f;
      continue;
    }
    const RowLse r = row_logsumexp(l, V);  // read every logit before the row is overwritten
    const float ls = (float)r.log_sum, m = r.m;
#pragma omp simd
    for (int v = 0; v < V; ++v) d[v] = scale * exp_vec((l[v] - m) - ls);
    d[t] -= scale;
  }
}

}  // namespace strata
