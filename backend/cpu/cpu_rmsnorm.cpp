// RMSNorm forward/backward on the CPU, HF LLaMA convention: w * (x * rsqrt(mean(x^2) + eps)).
// Rows run in parallel; the weight gradient is reduced per column in fixed row order (deterministic). Row sums are
// in double, in vector lanes (a fixed order for a given build).
#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/cpu/cpu_backend.h"

namespace strata {

void CpuBackend::rmsnorm_forward(float* out, float* rstd, const float* x, const float* w, int N, int C, float eps) {
#pragma omp parallel for schedule(static) if ((size_t)N * C >= kParallelMinWork)
  for (int n = 0; n < N; ++n) {
    const float* xr = x + (size_t)n * C;
    float* o = out + (size_t)n * C;
    double ss = 0.0;
#pragma omp simd reduction(+ : ss)
    for (int c = 0; c < C; ++c) ss += (double)xr[c] * xr[c];
    const float r = (float)(1.0 / std::sqrt(ss / C + (double)eps));
    rstd[n] = r;
#pragma omp simd
    for (int c = 0; c < C; ++c) o[c] = w[c] * (xr[c] * r);
  }
}

void CpuBackend::rmsnorm_backward(float* dx, float* dw, const float* dout, const float* x, const float* w,
                                  const float* rstd, int N, int C) {
  // y_c = w_c x_c r,  r = (mean(x^2)+eps)^-1/2
  // dx_c = r (w_c g_c) - r^3 x_c / C * sum_j w_j g_j x_j
  if (dx) {
#pragma omp parallel for schedule(static) if ((size_t)N * C >= kParallelMinWork)
    for (int n = 0; n < N; ++n) {
      const float* xr = x + (size_t)n * C;
      const float* g = dout + (size_t)n * C;
      float* d = dx + (size_t)n * C;
      const double r = rstd[n];
      double dot = 0.0;
#pragma omp simd reduction(+ : dot)
      for (int c = 0; c < C; ++c) dot += (double)w[c] * g[c] * xr[c];
      const float k = (float)(r * r * r * dot / C);
      const float rf = (float)r;
      for (int c = 0; c < C; ++c) d[c] += rf * (w[c] * g[c]) - k * xr[c];
    }
  }
  if (dw) {
    // Row chunks of fixed size reduce into per-chunk partial sums (contiguous access), then chunks are summed in
    // order: the result does not depend on the thread count.
    constexpr int kRows = 32;
    const int nchunks = (N + kRows - 1) / kRows;
    std::vector<double> partial((size_t)nchunks * C, 0.0);
#pragma omp parallel for schedule(static) if ((size_t)N * C >= kParallelMinWork)
    for (int ch = 0; ch < nchunks; ++ch) {
      double* acc = partial.data() + (size_t)ch * C;
      for (int n = ch * kRows; n < std::min(N, (ch + 1) * kRows); ++n) {
        const float* g = dout + (size_t)n * C;
        const float* xr = x + (size_t)n * C;
        const double r = rstd[n];
        for (int c = 0; c < C; ++c) acc[c] += (double)g[c] * xr[c] * r;
      }
    }
#pragma omp parallel for schedule(static) if ((size_t)N * C >= kParallelMinWork)
    for (int c = 0; c < C; ++c) {
      double sum = 0.0;
      for (int ch = 0; ch < nchunks; ++ch) sum += partial[(size_t)ch * C + c];
      dw[c] += (float)sum;
    }
  }
}

}  // namespace strata
