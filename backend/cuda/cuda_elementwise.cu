// Elementwise CUDA ops: residual add (out may alias a or b: each element is read before it is written).
#include "backend/cuda/cuda_backend_impl.h"

namespace strata::STRATA_CUDA_NS {

namespace {

__global__ void add_kernel(float* out, const float* a, const float* b, size_t n) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    out[i] = a[i] + b[i];
}

}  // namespace

void CudaBackend::add(float* out, const float* a, const float* b, size_t n) {
  if (n == 0) return;
  const int threads = std::min(256, max_threads_per_block_);
  STRATA_LAUNCH(add_kernel, grid_for(n, threads), threads, 0, stream())(out, a, b, n);
  STRATA_CUDA_LAUNCH_CHECK("add_kernel");
}

}  // namespace strata::STRATA_CUDA_NS
