// Optimizer-side CUDA ops, fp32 and bf16: the fused AdamW update (the CPU backend's formula, bias corrections
// computed on the host the same way; the bf16 form updates the fp32 master and writes the bf16 working copy) and
// the deterministic sum of squares: fixed-size chunks reduced per block in double, summed in chunk order on the host.
#include <cuda_bf16.h>

#include <cmath>
#include <vector>

#include "backend/cuda/cuda_backend_impl.h"
#include "backend/cuda/cuda_reduce.cuh"

namespace strata::STRATA_CUDA_NS {

namespace {

constexpr size_t kChunk = 1 << 14;  // elements per partial sum (fixed: the result depends only on n)
constexpr int kSumThreads = 256;    // fixed too, so the in-chunk reduction tree never changes

struct AdamWArgs {
  float b1, b2, eps, grad_scale, bc2_sqrt, step_size, decay;
};

AdamWArgs adamw_args(const AdamWStep& s) {
  AdamWArgs a;
  a.b1 = s.beta1;
  a.b2 = s.beta2;
  a.eps = s.eps;
  a.grad_scale = s.grad_scale;
  const float bc1 = 1.0f - (float)std::pow((double)s.beta1, (double)s.step);
  a.bc2_sqrt = (float)std::sqrt(1.0 - std::pow((double)s.beta2, (double)s.step));
  a.step_size = s.lr / bc1;
  a.decay = 1.0f - s.lr * s.weight_decay;
  return a;
}

__device__ __forceinline__ float as_float(float x) { return x; }
__device__ __forceinline__ float as_float(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ __forceinline__ void store_working(float*, size_t, float) {}  // fp32: the master is the parameter
__device__ __forceinline__ void store_working(__nv_bfloat16* w, size_t i, float p) { w[i] = __float2bfloat16_rn(p); }

// p (fp32, updated in place) from gradient g of type G; with a bf16 working copy W, also w[i] = bf16(p[i]).
template <class G, class W>
__global__ void adamw_kernel(float* p, W* w, const G* g, float* m, float* v, size_t n, AdamWArgs a) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    // The host loop's operations exactly (backend/adamw_loop.h): explicit fmas, IEEE sqrt and division.
    const float gi = as_float(g[i]) * a.grad_scale;
    const float mi = fmaf(1.0f - a.b1, gi, a.b1 * m[i]);
    const float vi = fmaf(1.0f - a.b2, gi * gi, a.b2 * v[i]);
    m[i] = mi;
    v[i] = vi;
    const float denom = sqrtf(vi) / a.bc2_sqrt + a.eps;
    const float pi = fmaf(-a.step_size, mi / denom, p[i] * a.decay);
    p[i] = pi;
    store_working(w, i, pi);
  }
}

// partial[chunk]: sum of x[i]^2 in double over chunk blockIdx.x
template <class T>
__global__ void sum_squares_kernel(double* partial, const T* x, size_t n) {
  const size_t begin = (size_t)blockIdx.x * kChunk;
  const size_t end = begin + kChunk < n ? begin + kChunk : n;
  double acc = 0.0;
  for (size_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    const double xi = (double)as_float(x[i]);
    acc += xi * xi;
  }
  acc = cuda_detail::block_sum(acc);
  if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

}  // namespace

template <class T>
double CudaBackend::chunked_sum_squares(const T* x, size_t n) {
  if (n == 0) return 0.0;
  const size_t nchunks = (n + kChunk - 1) / kChunk;
  STRATA_CHECK(nchunks <= 0x7fffffffu, "sum_squares: too many elements for one CUDA grid");
  STRATA_CHECK(kSumThreads <= max_threads_per_block_, "sum_squares: device allows too few threads per block");
  double* partial = static_cast<double*>(scratch(sizeof(double) * nchunks));
  STRATA_LAUNCH(sum_squares_kernel, (unsigned)nchunks, kSumThreads, 0, stream())(partial, x, n);
  STRATA_CUDA_LAUNCH_CHECK("sum_squares_kernel");
  std::vector<double> host(nchunks);
  STRATA_CUDA_CHECK(
      cudaMemcpyAsync(host.data(), partial, sizeof(double) * nchunks, cudaMemcpyDeviceToHost, stream()));
  STRATA_CUDA_CHECK(cudaStreamSynchronize(stream()));
  double total = 0.0;
  for (double v : host) total += v;
  return total;
}

void CudaBackend::adamw_update(float* p, const float* g, float* m, float* v, size_t n, const AdamWStep& s) {
  if (n == 0) return;
  const int threads = std::min(256, max_threads_per_block_);
  STRATA_LAUNCH(adamw_kernel, grid_for(n, threads), threads, 0, stream())
  (p, static_cast<float*>(nullptr), g, m, v, n, adamw_args(s));
  STRATA_CUDA_LAUNCH_CHECK("adamw_kernel");
}

void CudaBackend::adamw_update_bf16(float* master, bf16* param, const bf16* grad, float* m, float* v, size_t n,
                                    const AdamWStep& s) {
  if (n == 0) return;
  const int threads = std::min(256, max_threads_per_block_);
  STRATA_LAUNCH(adamw_kernel, grid_for(n, threads), threads, 0, stream())
  (master, reinterpret_cast<__nv_bfloat16*>(param), reinterpret_cast<const __nv_bfloat16*>(grad), m, v, n,
   adamw_args(s));
  STRATA_CUDA_LAUNCH_CHECK("adamw_kernel (bf16)");
}

double CudaBackend::sum_squares(const float* x, size_t n) { return chunked_sum_squares(x, n); }

double CudaBackend::sum_squares_bf16(const bf16* x, size_t n) {
  return chunked_sum_squares(reinterpret_cast<const __nv_bfloat16*>(x), n);
}

}  // namespace strata::STRATA_CUDA_NS
