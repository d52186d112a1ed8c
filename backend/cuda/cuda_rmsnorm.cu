// RMSNorm forward/backward on CUDA, HF LLaMA convention: w * (x * rsqrt(mean(x^2) + eps)). One block per row with
// double-precision row sums (as the CPU backend). The weight gradient reduces fixed chunks of kRows rows into
// per-chunk partials, then sums the chunks in order per column: deterministic, atomic-free.
#include "backend/cuda/cuda_backend_impl.h"
#include "backend/cuda/cuda_reduce.cuh"

namespace strata::STRATA_CUDA_NS {

namespace {

using cuda_detail::block_sum;

constexpr int kRows = 32;

__global__ void rmsnorm_forward_kernel(float* out, float* rstd, const float* x, const float* w, int C, float eps) {
  const size_t n = blockIdx.x;
  const float* xr = x + n * C;
  float* o = out + n * C;
  double ss = 0.0;
  for (int c = threadIdx.x; c < C; c += blockDim.x) ss += (double)xr[c] * xr[c];
  ss = block_sum(ss);
  const float r = (float)(1.0 / sqrt(ss / C + (double)eps));
  if (threadIdx.x == 0) rstd[n] = r;
  for (int c = threadIdx.x; c < C; c += blockDim.x) o[c] = w[c] * (xr[c] * r);
}

__global__ void rmsnorm_backward_dx_kernel(float* dx, const float* dout, const float* x, const float* w,
                                           const float* rstd, int C) {
  const size_t n = blockIdx.x;
  const float* xr = x + n * C;
  const float* g = dout + n * C;
  float* d = dx + n * C;
  const double r = rstd[n];
  double dot = 0.0;
  for (int c = threadIdx.x; c < C; c += blockDim.x) dot += (double)w[c] * g[c] * xr[c];
  dot = block_sum(dot);
  const float k = (float)(r * r * r * dot / C);
  const float rf = (float)r;
  for (int c = threadIdx.x; c < C; c += blockDim.x) d[c] += rf * (w[c] * g[c]) - k * xr[c];
}

// partial[chunk, c] = sum over the chunk's rows of g * x * r (double)
__global__ void rmsnorm_dw_partial_kernel(double* partial, const float* dout, const float* x, const float* rstd,
                                          int N, int C) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  const int ch = blockIdx.y;
  if (c >= C) return;
  const int n0 = ch * kRows, n1 = min(N, n0 + kRows);
  double acc = 0.0;
  for (int n = n0; n < n1; ++n) acc += (double)dout[(size_t)n * C + c] * x[(size_t)n * C + c] * (double)rstd[n];
  partial[(size_t)ch * C + c] = acc;
}

__global__ void rmsnorm_dw_sum_kernel(float* dw, const double* partial, int nchunks, int C) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  double sum = 0.0;
  for (int ch = 0; ch < nchunks; ++ch) sum += partial[(size_t)ch * C + c];
  dw[c] += (float)sum;
}

}  // namespace

void CudaBackend::rmsnorm_forward(float* out, float* rstd, const float* x, const float* w, int N, int C, float eps) {
  if (N <= 0) return;
  STRATA_LAUNCH(rmsnorm_forward_kernel, (unsigned)N, row_threads(C), 0, stream())(out, rstd, x, w, C, eps);
  STRATA_CUDA_LAUNCH_CHECK("rmsnorm_forward_kernel");
}

void CudaBackend::rmsnorm_backward(float* dx, float* dw, const float* dout, const float* x, const float* w,
                                   const float* rstd, int N, int C) {
  if (N <= 0 || C <= 0) return;
  if (dx) {
    STRATA_LAUNCH(rmsnorm_backward_dx_kernel, (unsigned)N, row_threads(C), 0, stream())(dx, dout, x, w, rstd, C);
    STRATA_CUDA_LAUNCH_CHECK("rmsnorm_backward_dx_kernel");
  }
  if (dw) {
    const int nchunks = (N + kRows - 1) / kRows;
    STRATA_CHECK(nchunks <= 65535, "rmsnorm_backward: too many rows for the CUDA dw reduction");
    double* partial = static_cast<double*>(scratch(sizeof(double) * (size_t)nchunks * C));
    const int threads = std::min(256, max_threads_per_block_);
    const unsigned cblocks = (unsigned)((C + threads - 1) / threads);
    STRATA_LAUNCH(rmsnorm_dw_partial_kernel, dim3(cblocks, (unsigned)nchunks), threads, 0, stream())
    (partial, dout, x, rstd, N, C);
    STRATA_CUDA_LAUNCH_CHECK("rmsnorm_dw_partial_kernel");
    STRATA_LAUNCH(rmsnorm_dw_sum_kernel, cblocks, threads, 0, stream())(dw, partial, nchunks, C);
    STRATA_CUDA_LAUNCH_CHECK("rmsnorm_dw_sum_kernel");
  }
}

}  // namespace strata::STRATA_CUDA_NS
