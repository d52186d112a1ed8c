// Linear layer of the bf16 engine (x @ W^T, HF layout, bf16 weights) on tensor cores: cublasGemmEx, bf16 operands,
// fp32 accumulation; fp32 activations are rounded to bf16 in scratch first. Same GEMM mapping as cuda_linear.cu.
#include "backend/cuda/cuda_backend_impl.h"

namespace strata::STRATA_CUDA_NS {

namespace {

constexpr size_t kAlign = 256;  // each operand carved from the one scratch buffer starts on this boundary

size_t align_up(size_t bytes) { return (bytes + kAlign - 1) & ~(kAlign - 1); }

}  // namespace

cublasHandle_t CudaBackend::bf16_blas() {
  if (!cublas_bf16_) {
    STRATA_CUBLAS_CHECK(cublasCreate(&cublas_bf16_));
    STRATA_CUBLAS_CHECK(cublasSetStream(cublas_bf16_, stream()));
    // Default math (not cublas_'s pedantic mode): bf16 inputs with fp32 accumulation may use tensor cores.
    STRATA_CUBLAS_CHECK(cublasSetMathMode(cublas_bf16_, CUBLAS_DEFAULT_MATH));
  }
  return cublas_bf16_;
}

void CudaBackend::linear_forward_bf16(float* out, const float* x, const bf16* w, int N, int IC, int OC) {
  if (N <= 0 || OC <= 0) return;
  if (IC <= 0) {  // empty sum (and an invalid leading dimension for cuBLAS)
    fill_zero(out, sizeof(float) * (size_t)N * OC);
    return;
  }
  bf16* xb = static_cast<bf16*>(scratch(align_up(sizeof(bf16) * (size_t)N * IC)));  // [N,IC] = bf16(x)
  convert_f32_to_bf16(xb, x, (size_t)N * IC);
  const float one = 1.0f, zero = 0.0f;
  // out[N,OC] = x[N,IC] @ w[OC,IC]^T   <=>  out^T[OC,N] = w[OC,IC] (col-major: w^T, op T) @ x^T[IC,N]
  STRATA_CUBLAS_CHECK(cublasGemmEx(bf16_blas(), CUBLAS_OP_T, CUBLAS_OP_N, OC, N, IC, &one, w, CUDA_R_16BF, IC, xb,
                                   CUDA_R_16BF, IC, &zero, out, CUDA_R_32F, OC, CUBLAS_COMPUTE_32F,
                                   CUBLAS_GEMM_DEFAULT));
}

void CudaBackend::linear_backward_bf16(float* dx, bf16* dw, const float* dout, const float* x, const bf16* w, int N,
                                       int IC, int OC) {
  if (N <= 0 || IC <= 0 || OC <= 0) return;  // every product is empty: dx += 0, dw = bf16(dw) = dw
  const bool want_dx = dx != nullptr, want_dw = dw != nullptr;
  if (!want_dx && !want_dw) return;
  // One scratch buffer: doutb [N,OC] = bf16(dout), then (for dw only) xb [N,IC] = bf16(x).
  const size_t dout_bytes = align_up(sizeof(bf16) * (size_t)N * OC);
  const size_t x_bytes = want_dw ? align_up(sizeof(bf16) * (size_t)N * IC) : 0;
  char* base = static_cast<char*>(scratch(dout_bytes + x_bytes));
  bf16* doutb = reinterpret_cast<bf16*>(base);
  bf16* xb = want_dw ? reinterpret_cast<bf16*>(base + dout_bytes) : nullptr;
  convert_f32_to_bf16(doutb, dout, (size_t)N * OC);
  if (want_dw) convert_f32_to_bf16(xb, x, (size_t)N * IC);
  const float one = 1.0f;
  cublasHandle_t h = bf16_blas();
  // dx[N,IC] += dout[N,OC] @ w[OC,IC]   <=>  dx^T[IC,N] += w^T[IC,OC] @ dout^T[OC,N]   (fp32 C, beta 1)
  if (want_dx)
    STRATA_CUBLAS_CHECK(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, IC, N, OC, &one, w, CUDA_R_16BF, IC, doutb,
                                     CUDA_R_16BF, OC, &one, dx, CUDA_R_32F, IC, CUBLAS_COMPUTE_32F,
                                     CUBLAS_GEMM_DEFAULT));
  // dw[OC,IC] = bf16(dw + dout[N,OC]^T @ x[N,IC])  <=>  dw^T[IC,OC] = x^T[IC,N] @ dout[N,OC] + dw^T   (bf16 C,
  // beta 1: cuBLAS widens dw, adds it to the fp32 sum and rounds once)
  if (want_dw)
    STRATA_CUBLAS_CHECK(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_T, IC, OC, N, &one, xb, CUDA_R_16BF, IC, doutb,
                                     CUDA_R_16BF, OC, &one, dw, CUDA_R_16BF, IC, CUBLAS_COMPUTE_32F,
                                     CUBLAS_GEMM_DEFAULT));
}

}  // namespace strata::STRATA_CUDA_NS
