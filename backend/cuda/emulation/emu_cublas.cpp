// The emulated cuBLAS: a handle remembers its stream; GEMMs are column-major C = alpha op(A) op(B) + beta C, queued
// on that stream and computed by OpenBLAS sgemm in fp32 from fp32 operands (bf16 ones widened exactly first: bf16
// inputs, fp32 accumulation). A bf16 C is widened and the product added in K slices of kOutputTypeSliceK, rounded to
// bf16 after each slice: cuBLAS promises no single rounding for a 16-bit C, and on an H200 its split-K kernels reduce
// partial sums in the output type (seen 2026-12-04: dw 16x8, K 33, 38 of 128 sums off, 3 by two ulps), so the
// emulation is at least that lossy. Code that needs one rounding must use an fp32 C. With beta == 0, C is not read.
// Argument errors return CUBLAS_STATUS_INVALID_VALUE as cuBLAS does.
#include <cblas.h>

#include <algorithm>
#include <vector>

#include "backend/cuda/emulation/include/cublas_v2.h"
#include "backend/cuda/emulation/include/cuda_bf16.h"

namespace strata::cuda_emu {

struct EmuBlas {
  cudaStream_t stream = nullptr;
  cublasMath_t math = CUBLAS_DEFAULT_MATH;
};

namespace {

constexpr int kOutputTypeSliceK = 8;  // a bf16 C is rounded after every this many terms of the K sum

bool bad_args(int m, int n, int k, cublasOperation_t ta, cublasOperation_t tb, int lda, int ldb, int ldc) {
  if (m < 0 || n < 0 || k < 0) return true;
  const int rows_a = ta == CUBLAS_OP_N ? m : k, rows_b = tb == CUBLAS_OP_N ? k : n;
  return lda < std::max(1, rows_a) || ldb < std::max(1, rows_b) || ldc < std::max(1, m);
}

// A column-major [rows x cols] fp32 copy of a bf16 matrix with leading dimension ld (only the used part is read).
std::vector<float> widen(const void* p, int rows, int cols, int ld) {
  std::vector<float> out((size_t)rows * cols);
  const auto* h = static_cast<const __nv_bfloat16*>(p);
  for (int c = 0; c < cols; ++c)
    for (int r = 0; r < rows; ++r) out[(size_t)c * rows + r] = __bfloat162float(h[(size_t)c * ld + r]);
  return out;
}

void gemm(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, float alpha, const void* A,
          cudaDataType at_, int lda, const void* B, cudaDataType bt, int ldb, float beta, void* C, cudaDataType ct,
          int ldc) {
  if (m == 0 || n == 0) return;
  const int rows_a = ta == CUBLAS_OP_N ? m : k, cols_a = ta == CUBLAS_OP_N ? k : m;
  const int rows_b = tb == CUBLAS_OP_N ? k : n, cols_b = tb == CUBLAS_OP_N ? n : k;
  std::vector<float> a32, b32, c32;
  const float* a = static_cast<const float*>(A);
  const float* b = static_cast<const float*>(B);
  if (at_ == CUDA_R_16BF) a32 = widen(A, rows_a, cols_a, lda), a = a32.data(), lda = std::max(1, rows_a);
  if (bt == CUDA_R_16BF) b32 = widen(B, rows_b, cols_b, ldb), b = b32.data(), ldb = std::max(1, rows_b);
  float* c = static_cast<float*>(C);
  int ldc32 = ldc;
  if (ct == CUDA_R_16BF) {
    c32.assign((size_t)m * n, 0.0f);
    if (beta != 0.0f) c32 = widen(C, m, n, ldc);
    c = c32.data(), ldc32 = m;
  } else if (beta == 0.0f) {
    for (int j = 0; j < n; ++j) std::fill_n(c + (size_t)j * ldc, m, 0.0f);  // C may hold NaN: never read it
  }
  if (k == 0) {
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < m; ++i) c[(size_t)j * ldc32 + i] *= beta;
  }
  const CBLAS_TRANSPOSE ota = ta == CUBLAS_OP_N ? CblasNoTrans : CblasTrans;
  const CBLAS_TRANSPOSE otb = tb == CUBLAS_OP_N ? CblasNoTrans : CblasTrans;
  const int slice = ct == CUDA_R_16BF ? kOutputTypeSliceK : std::max(k, 1);
  for (int p0 = 0; p0 < k; p0 += slice) {
    const int kk = std::min(slice, k - p0);
    // op(A)[:, p0..) and op(B)[p0.., :] of the column-major operands
    const float* a_p = ta == CUBLAS_OP_N ? a + (size_t)p0 * lda : a + p0;
    const float* b_p = tb == CUBLAS_OP_N ? b + p0 : b + (size_t)p0 * ldb;
    cblas_sgemm(CblasColMajor, ota, otb, m, n, kk, alpha, a_p, lda, b_p, ldb, p0 == 0 ? beta : 1.0f, c, ldc32);
    if (ct == CUDA_R_16BF)
      for (float& v : c32) v = __bfloat162float(__float2bfloat16_rn(v));  // the partial sum is stored in bf16
  }
  if (ct == CUDA_R_16BF)
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < m; ++i)
        static_cast<__nv_bfloat16*>(C)[(size_t)j * ldc + i] = __float2bfloat16_rn(c32[(size_t)j * m + i]);
}

}  // namespace

cublasStatus_t cublasCreate(cublasHandle_t* h) {
  *h = new EmuBlas;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasDestroy(cublasHandle_t h) {
  cudaStreamSynchronize(h->stream);
  delete h;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetStream(cublasHandle_t h, cudaStream_t s) {
  h->stream = s;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetMathMode(cublasHandle_t h, cublasMath_t mode) {
  h->math = mode;
  return CUBLAS_STATUS_SUCCESS;
}
const char* cublasGetStatusString(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
  }
  return "CUBLAS_STATUS_UNKNOWN";
}

cublasStatus_t cublasSgemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                           const float* alpha, const float* A, int lda, const float* B, int ldb, const float* beta,
                           float* C, int ldc) {
  if (bad_args(m, n, k, ta, tb, lda, ldb, ldc)) return CUBLAS_STATUS_INVALID_VALUE;
  const float al = *alpha, be = *beta;  // host pointer mode: read at the call
  enqueue(h->stream,
          [=] { gemm(ta, tb, m, n, k, al, A, CUDA_R_32F, lda, B, CUDA_R_32F, ldb, be, C, CUDA_R_32F, ldc); });
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGemmEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                            const void* alpha, const void* A, cudaDataType atype, int lda, const void* B,
                            cudaDataType btype, int ldb, const void* beta, void* C, cudaDataType ctype, int ldc,
                            cublasComputeType_t compute, cublasGemmAlgo_t) {
  if (bad_args(m, n, k, ta, tb, lda, ldb, ldc)) return CUBLAS_STATUS_INVALID_VALUE;
  if (compute != CUBLAS_COMPUTE_32F || atype != btype) return CUBLAS_STATUS_NOT_SUPPORTED;
  const float al = *static_cast<const float*>(alpha), be = *static_cast<const float*>(beta);
  enqueue(h->stream, [=] { gemm(ta, tb, m, n, k, al, A, atype, lda, B, btype, ldb, be, C, ctype, ldc); });
  return CUBLAS_STATUS_SUCCESS;
}

}  // namespace strata::cuda_emu
