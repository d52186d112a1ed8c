// Token embedding lookup and its gradient scatter on CUDA. The backward gives each thread one column and walks the
// tokens in order, so every dtable entry is accumulated by one thread in token order: deterministic, atomic-free.
#include "backend/cuda/cuda_backend_impl.h"

namespace strata::STRATA_CUDA_NS {

namespace {

__global__ void embedding_forward_kernel(float* out, const int32_t* tokens, const float* table, int N, int C) {
  const size_t total = (size_t)N * C;
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
    const size_t n = i / (size_t)C, c = i % (size_t)C;
    out[i] = table[(size_t)tokens[n] * C + c];
  }
}

__global__ void embedding_backward_kernel(float* dtable, const float* dout, const int32_t* tokens, int N, int C) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  for (int n = 0; n < N; ++n) dtable[(size_t)tokens[n] * C + c] += dout[(size_t)n * C + c];
}

}  // namespace

void CudaBackend::embedding_forward(float* out, const int32_t* tokens, const float* table, int N, int C, int) {
  const size_t total = (size_t)N * C;
  if (total == 0) return;
  const int threads = std::min(256, max_threads_per_block_);
  STRATA_LAUNCH(embedding_forward_kernel, grid_for(total, threads), threads, 0, stream())(out, tokens, table, N, C);
  STRATA_CUDA_LAUNCH_CHECK("embedding_forward_kernel");
}

void CudaBackend::embedding_backward(float* dtable, const float* dout, const int32_t* tokens, int N, int C, int) {
  if (N <= 0 || C <= 0) return;
  const int threads = std::min(128, max_threads_per_block_);
  const unsigned blocks = (unsigned)((C + threads - 1) / threads);
  STRATA_LAUNCH(embedding_backward_kernel, blocks, threads, 0, stream())(dtable, dout, tokens, N, C);
  STRATA_CUDA_LAUNCH_CHECK("embedding_backward_kernel");
}

}  // namespace strata::STRATA_CUDA_NS
