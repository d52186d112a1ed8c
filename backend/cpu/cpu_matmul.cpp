// Linear layer (x @ W^T, HF nn.Linear layout) forward and backward on OpenBLAS sgemm.
// The OpenMP build of OpenBLAS parallelises each call; results are deterministic for a fixed thread count.
#include <cblas.h>

#include "backend/cpu/cpu_backend.h"

namespace strata {

void CpuBackend::linear_forward(float* out, const float* x, const float* w, int N, int IC, int OC) {
  // out[N,OC] = x[N,IC] @ w[OC,IC]^T
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, IC, 1.0f, x, IC, w, IC, 0.0f, out, OC);
}

void CpuBackend::linear_backward(float* dx, float* dw, const float* dout, const float* x, const float* w, int N,
                                 int IC, int OC) {
  // dx[N,IC] += dout[N,OC] @ w[OC,IC]
  if (dx) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, IC, OC, 1.0f, dout, OC, w, IC, 1.0f, dx, IC);
  // dw[OC,IC] += dout[N,OC]^T @ x[N,IC]
  if (dw) cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, IC, N, 1.0f, dout, OC, x, IC, 1.0f, dw, IC);
}

}  // namespace strata
