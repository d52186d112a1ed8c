// Linear layer of the bf16 engine (x @ W^T, HF layout, bf16 weights) on tensor cores: cublasGemmEx, bf16 operands,
// fp32 accumulation; fp32 activations are rounded to bf16 in scratch first. Same GEMM mapping as cuda_linear.cu.
#include "backend/cuda/cuda_backend.h"
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
  // One scratch buffer: doutb [N,OC] = bf16(dout), then (for dw only) xb [N,IC] = bf16(x) and the fp32 product
  // of `rows` rows of dw at a time, dw32 [rows,IC].
  const int rows = (int)std::min<size_t>((size_t)OC, std::max<size_t>(1, kBf16WeightGradChunkFloats / (size_t)IC));
  const size_t dout_bytes = align_up(sizeof(bf16) * (size_t)N * OC);
  const size_t x_bytes = want_dw ? align_up(sizeof(bf16) * (size_t)N * IC) : 0;
  const size_t dw32_bytes = want_dw ? align_up(sizeof(float) * (size_t)rows * IC) : 0;
  char* base = static_cast<char*>(scratch(dout_bytes + x_bytes + dw32_bytes));
  bf16* doutb = reinterpret_cast<bf16*>(base);
  bf16* xb = want_dw ? reinterpret_cast<bf16*>(base + dout_bytes) : nullptr;
  float* dw32 = want_dw ? reinterpret_cast<float*>(base + dout_bytes + x_bytes) : nullptr;
  convert_f32_to_bf16(doutb, dout, (size_t)N * OC);
  if (want_dw) convert_f32_to_bf16(xb, x, (size_t)N * IC);
  const float one = 1.0f, zero = 0.0f;
  cublasHandle_t h = bf16_blas();
  // dx[N,IC] += dout[N,OC] @ w[OC,IC]   <=>  dx^T[IC,N] += w^T[IC,OC] @ dout^T[OC,N]   (fp32 C, beta 1)
  if (want_dx)
    STRATA_CUBLAS_CHECK(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, IC, N, OC, &one, w, CUDA_R_16BF, IC, doutb,
                                     CUDA_R_16BF, OC, &one, dx, CUDA_R_32F, IC, CUBLAS_COMPUTE_32F,
                                     CUBLAS_GEMM_DEFAULT));
  if (!want_dw) return;
  // dw[OC,IC] = bf16(dw + dout[N,OC]^T @ x[N,IC]), one rounding per element. Not a bf16 C with beta 1: cuBLAS does
  // not promise one rounding there, and its split-K kernels round partial sums to bf16 (2 ulps off on an H200). For
  // rows [o0, o0+r): dw32^T[IC,r] = x^T[IC,N] @ dout[N, o0..o0+r) in fp32, then dw[o0..] = bf16(dw + dw32).
  for (int o0 = 0; o0 < OC; o0 += rows) {
    const int r = std::min(rows, OC - o0);
    STRATA_CUBLAS_CHECK(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_T, IC, r, N, &one, xb, CUDA_R_16BF, IC, doutb + o0,
                                     CUDA_R_16BF, OC, &zero, dw32, CUDA_R_32F, IC, CUBLAS_COMPUTE_32F,
                                     CUBLAS_GEMM_DEFAULT));
    accumulate_into_bf16(dw + (size_t)o0 * IC, dw32, (size_t)r * IC);
  }
}

}  // namespace strata::STRATA_CUDA_NS
