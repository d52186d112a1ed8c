// Optimizer-side CPU ops, fp32 and bf16: the fused AdamW update (adamw_loop.h, shared with the host optimizer) and
// the deterministic sum of squares used for gradient norms; both precisions differ only in loads and stores.
#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/adamw_loop.h"
#include "backend/cpu/cpu_backend.h"
#include "core/dtype_convert.h"

namespace strata {

namespace {

// Fixed-size chunks reduced in parallel, chunk sums added in order: the result does not depend on the thread count.
template <class Value>
double chunked_sum_squares(size_t n, Value value) {
  constexpr size_t kChunk = 1 << 14;
  const size_t nchunks = (n + kChunk - 1) / kChunk;
  std::vector<double> partial(nchunks, 0.0);
#pragma omp parallel for schedule(static) if (n >= kParallelMinWork)
  for (size_t c = 0; c < nchunks; ++c) {
    const size_t end = std::min(n, (c + 1) * kChunk);
    double acc = 0.0;
#pragma omp simd reduction(+ : acc)
    for (size_t i = c * kChunk; i < end; ++i) {
      const double x = value(i);
      acc += x * x;
    }
    partial[c] = acc;
  }
  double total = 0.0;
  for (double p : partial) total += p;
  return total;
}

}  // namespace

void CpuBackend::adamw_update(float* p, const float* g, float* m, float* v, size_t n, const AdamWStep& s) {
  adamw_loop(
      n, s, m, v, [g](size_t i) { return g[i]; }, [p](size_t i) { return p[i]; },
      [p](size_t i, float x) { p[i] = x; });
}

void CpuBackend::adamw_update_bf16(float* master, bf16* param, const bf16* grad, float* m, float* v, size_t n,
                                   const AdamWStep& s) {
  adamw_loop(
      n, s, m, v, [grad](size_t i) { return bf16_to_f32(grad[i]); }, [master](size_t i) { return master[i]; },
      [master, param](size_t i, float x) {
        master[i] = x;
        param[i] = f32_to_bf16(x);
      });
}

double CpuBackend::sum_squares(const float* x, size_t n) {
  return chunked_sum_squares(n, [x](size_t i) { return (double)x[i]; });
}

double CpuBackend::sum_squares_bf16(const bf16* x, size_t n) {
  return chunked_sum_squares(n, [x](size_t i) { return (double)bf16_to_f32(x[i]); });
}

}  // namespace strata
