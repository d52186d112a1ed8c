// RMSNorm forward/backward on the CPU, HF LLaMA convention: w * (x * rsqrt(mean(x^2) + eps)).
// Rows run in parallel; the weight gradient is reduced per column in fixed row order (deterministic).
#include <cmath>

#include "engine/backend_cpu/cpu_backend.h"

namespace strata {

void CpuBackend::rmsnorm_forward(float* out, float* rstd, const float* x, const float* w, int N, int C, float eps) {
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; ++n) {
    const float* xr = x + (size_t)n * C;
    float* o = out + (size_t)n * C;
    double ss = 0.0;
    for (int c = 0; c < C; ++c) ss += (double)xr[c] * xr[c];
    const float r = (float)(1.0 / std::sqrt(ss / C + (double)eps));
    rstd[n] = r;
    for (int c = 0; c < C; ++c) o[c] = w[c] * (xr[c] * r);
  }
}

void CpuBackend::rmsnorm_backward(float* dx, float* dw, const float* dout, const float* x, const float* w,
                                  const float* rstd, int N, int C) {
  // y_c = w_c x_c r,  r = (mean(x^2)+eps)^-1/2
  // dx_c = r (w_c g_c) - r^3 x_c / C * sum_j w_j g_j x_j
  if (dx) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; ++n) {
      const float* xr = x + (size_t)n * C;
      const float* g = dout + (size_t)n * C;
      float* d = dx + (size_t)n * C;
      const double r = rstd[n];
      double dot = 0.0;
      for (int c = 0; c < C; ++c) dot += (double)w[c] * g[c] * xr[c];
      const float k = (float)(r * r * r * dot / C);
      const float rf = (float)r;
      for (int c = 0; c < C; ++c) d[c] += rf * (w[c] * g[c]) - k * xr[c];
    }
  }
  if (dw) {
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; ++c) {
      double acc = 0.0;
      for (int n = 0; n < N; ++n) acc += (double)dout[(size_t)n * C + c] * x[(size_t)n * C + c] * rstd[n];
      dw[c] += (float)acc;
    }
  }
}

}  // namespace strata
