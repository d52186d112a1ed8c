// The emulated cuBLAS: a handle remembers its stream; GEMMs are column-major C = alpha op(A) op(B) + beta C, queued
// on that stream, each element summed in fp32 in k order from fp32 operands (bf16 ones widened exactly). A bf16 C is
// read, accumulated in fp32 and rounded once. Argument errors return CUBLAS_STATUS_INVALID_VALUE as cuBLAS does.
#include <vector>

#include "backend/cuda/emulation/include/cublas_v2.h"
#include "backend/cuda/emulation/include/cuda_bf16.h"

namespace strata::cuda_emu {

struct EmuBlas {
  cudaStream_t stream = nullptr;
  cublasMath_t math = CUBLAS_DEFAULT_MATH;
};

namespace {

float load(const void* p, cudaDataType t, size_t i) {
  return t == CUDA_R_16BF ? __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]) : static_cast<const float*>(p)[i];
}
void store(void* p, cudaDataType t, size_t i, float v) {
  if (t == CUDA_R_16BF)
    static_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16_rn(v);
  else
    static_cast<float*>(p)[i] = v;
}

bool bad_args(int m, int n, int k, cublasOperation_t ta, cublasOperation_t tb, int lda, int ldb, int ldc) {
  if (m < 0 || n < 0 || k < 0) return true;
  const int rows_a = ta == CUBLAS_OP_N ? m : k, rows_b = tb == CUBLAS_OP_N ? k : n;
  return lda < std::max(1, rows_a) || ldb < std::max(1, rows_b) || ldc < std::max(1, m);
}

// op(X)[r][c] of a column-major X with leading dimension ld.
size_t at(cublasOperation_t t, int r, int c, int ld) {
  return t == CUBLAS_OP_N ? (size_t)c * ld + r : (size_t)r * ld + c;
}

void gemm(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, float alpha, const void* A, cudaDataType at_,
          int lda, const void* B, cudaDataType bt, int ldb, float beta, void* C, cudaDataType ct, int ldc) {
  std::vector<float> a_row(k);
  for (int i = 0; i < m; ++i) {
    for (int p = 0; p < k; ++p) a_row[p] = load(A, at_, at(ta, i, p, lda));
    for (int j = 0; j < n; ++j) {
      float s = 0.0f;
      for (int p = 0; p < k; ++p) s += a_row[p] * load(B, bt, at(tb, p, j, ldb));
      const size_t c = (size_t)j * ldc + i;
      // beta == 0: C is not read (it may hold NaN), as cuBLAS guarantees.
      store(C, ct, c, beta == 0.0f ? alpha * s : alpha * s + beta * load(C, ct, c));
    }
  }
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
