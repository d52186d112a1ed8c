// Optimizer-side CUDA ops: the fused AdamW update (the CPU backend's formula, bias corrections computed on the
// host the same way) and the deterministic sum of squares: fixed-size chunks reduced per block in double into a
// device buffer, copied back on the compute stream and summed in chunk order on the host.
#include <cmath>
#include <vector>

#include "engine/backend_cuda/cuda_backend_impl.h"
#include "engine/backend_cuda/cuda_reduce.cuh"

namespace strata {

namespace {

constexpr size_t kChunk = 1 << 14;  // elements per partial sum (fixed: the result depends only on n)
constexpr int kSumThreads = 256;    // fixed too, so the in-chunk reduction tree never changes

struct AdamWArgs {
  float b1, b2, eps, grad_scale, bc2_sqrt, step_size, decay;
};

__global__ void adamw_kernel(float* p, const float* g, float* m, float* v, size_t n, AdamWArgs a) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    const float gi = g[i] * a.grad_scale;
    const float mi = a.b1 * m[i] + (1.0f - a.b1) * gi;
    const float vi = a.b2 * v[i] + (1.0f - a.b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    const float denom = sqrtf(vi) / a.bc2_sqrt + a.eps;
    p[i] = p[i] * a.decay - a.step_size * (mi / denom);
  }
}

__global__ void sum_squares_kernel(double* partial, const float* x, size_t n) {
  const size_t begin = (size_t)blockIdx.x * kChunk;
  const size_t end = begin + kChunk < n ? begin + kChunk : n;
  double acc = 0.0;
  for (size_t i = begin + threadIdx.x; i < end; i += blockDim.x) acc += (double)x[i] * x[i];
  acc = cuda_detail::block_sum(acc);
  if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

}  // namespace

void CudaBackend::adamw_update(float* p, const float* g, float* m, float* v, size_t n, const AdamWStep& s) {
  if (n == 0) return;
  AdamWArgs a;
  a.b1 = s.beta1;
  a.b2 = s.beta2;
  a.eps = s.eps;
  a.grad_scale = s.grad_scale;
  const float bc1 = 1.0f - (float)std::pow((double)s.beta1, (double)s.step);
  a.bc2_sqrt = (float)std::sqrt(1.0 - std::pow((double)s.beta2, (double)s.step));
  a.step_size = s.lr / bc1;
  a.decay = 1.0f - s.lr * s.weight_decay;
  const int threads = std::min(256, max_threads_per_block_);
  adamw_kernel<<<grid_for(n, threads), threads, 0, stream()>>>(p, g, m, v, n, a);
  STRATA_CUDA_LAUNCH_CHECK("adamw_kernel");
}

double CudaBackend::sum_squares(const float* x, size_t n) {
  if (n == 0) return 0.0;
  const size_t nchunks = (n + kChunk - 1) / kChunk;
  STRATA_CHECK(nchunks <= 0x7fffffffu, "sum_squares: too many elements for one CUDA grid");
  STRATA_CHECK(kSumThreads <= max_threads_per_block_, "sum_squares: device allows too few threads per block");
  double* partial = static_cast<double*>(scratch(sizeof(double) * nchunks));
  sum_squares_kernel<<<(unsigned)nchunks, kSumThreads, 0, stream()>>>(partial, x, n);
  STRATA_CUDA_LAUNCH_CHECK("sum_squares_kernel");
  std::vector<double> host(nchunks);
  STRATA_CUDA_CHECK(
      cudaMemcpyAsync(host.data(), partial, sizeof(double) * nchunks, cudaMemcpyDeviceToHost, stream()));
  STRATA_CUDA_CHECK(cudaStreamSynchronize(stream()));
  double total = 0.0;
  for (double v : host) total += v;
  return total;
}

}  // namespace strata
