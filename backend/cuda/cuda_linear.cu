// Linear layer (x @ W^T, HF nn.Linear layout) forward and backward on cuBLAS sgemm, plain fp32 (pedantic math, no
// TF32). Row-major matrices are column-major transposes, so each row-major product C = A B is issued as
// C^T = B^T A^T, exactly mirroring the cblas_sgemm calls of cpu_matmul.cpp.
#include "backend/cuda/cuda_backend_impl.h"

namespace strata::STRATA_CUDA_NS {

void CudaBackend::linear_forward(float* out, const float* x, const float* w, int N, int IC, int OC) {
  if (N <= 0 || OC <= 0) return;
  const float one = 1.0f, zero = 0.0f;
  // out[N,OC] = x[N,IC] @ w[OC,IC]^T   <=>  out^T[OC,N] = w[OC,IC] (col-major: w^T, op T) @ x^T[IC,N]
  STRATA_CUBLAS_CHECK(
      cublasSgemm(cublas_, CUBLAS_OP_T, CUBLAS_OP_N, OC, N, IC, &one, w, IC, x, IC, &zero, out, OC));
}

void CudaBackend::linear_backward(float* dx, float* dw, const float* dout, const float* x, const float* w, int N,
                                  int IC, int OC) {
  const float one = 1.0f;
  // dx[N,IC] += dout[N,OC] @ w[OC,IC]   <=>  dx^T[IC,N] += w^T[IC,OC] @ dout^T[OC,N]
  if (dx && N > 0 && IC > 0)
    STRATA_CUBLAS_CHECK(
        cublasSgemm(cublas_, CUBLAS_OP_N, CUBLAS_OP_N, IC, N, OC, &one, w, IC, dout, OC, &one, dx, IC));
  // dw[OC,IC] += dout[N,OC]^T @ x[N,IC]  <=>  dw^T[IC,OC] += x^T[IC,N] @ dout[N,OC]
  if (dw && OC > 0 && IC > 0)
    STRATA_CUBLAS_CHECK(
        cublasSgemm(cublas_, CUBLAS_OP_N, CUBLAS_OP_T, IC, OC, N, &one, x, IC, dout, OC, &one, dw, IC));
}

}  // namespace strata::STRATA_CUDA_NS
