// Cross-entropy over the vocabulary on the CPU: per-row loss (forward) and softmax-minus-onehot (backward).
// Rows whose target is the ignore index contribute 0 loss and 0 gradient; backward may run in place on logits.
#include <cmath>

#include "backend/cpu/cpu_backend.h"

namespace strata {

static double row_logsumexp(const float* l, int V) {
  float m = l[0];
  for (int v = 1; v < V; ++v) m = l[v] > m ? l[v] : m;
  double s = 0.0;
  for (int v = 0; v < V; ++v) s += std::exp((double)l[v] - m);
  return m + std::log(s);
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
    losses[n] = (float)(row_logsumexp(l, V) - l[targets[n]]);
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
    const double lse = row_logsumexp(l, V);  // read every logit before the row is overwritten
    for (int v = 0; v < V; ++v) d[v] = (float)(scale * std::exp((double)l[v] - lse));
    d[t] -= scale;
  }
}

}  // namespace strata
