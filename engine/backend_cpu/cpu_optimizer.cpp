// Optimizer-side CPU ops: the fused AdamW update and the deterministic sum of squares used for gradient norms.
// sum_squares reduces fixed-size chunks in parallel, then adds the chunk sums in order (thread-count independent).
#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/backend_cpu/cpu_backend.h"
#include "engine/backend_cpu/cpu_reduce.h"

namespace strata {

void CpuBackend::adamw_update(float* p, const float* g, float* m, float* v, size_t n, const AdamWStep& s) {
  const float b1 = s.beta1, b2 = s.beta2;
  const float bc1 = 1.0f - (float)std::pow((double)b1, (double)s.step);
  const float bc2_sqrt = (float)std::sqrt(1.0 - std::pow((double)b2, (double)s.step));
  const float step_size = s.lr / bc1;
  const float decay = 1.0f - s.lr * s.weight_decay;
#pragma omp parallel for schedule(static) if (n >= kParallelMinWork)
  for (size_t i = 0; i < n; ++i) {
    const float gi = g[i] * s.grad_scale;
    const float mi = b1 * m[i] + (1.0f - b1) * gi;
    const float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    const float denom = std::sqrt(vi) / bc2_sqrt + s.eps;
    p[i] = p[i] * decay - step_size * (mi / denom);
  }
}

double CpuBackend::sum_squares(const float* x, size_t n) {
  return chunked_sum_squares(n, [x](size_t i) { return (double)x[i]; });
}

}  // namespace strata
