// Cross-entropy over the vocabulary on CUDA: one block per row; the row max in float, the sum of exponentials and
// the logsumexp in double (as the CPU backend). Backward may run in place: every thread reads and then writes only
// its own logits, after the row's logsumexp has been reduced from all of them.
#include <cfloat>

#include "backend/cuda/cuda_backend_impl.h"
#include "backend/cuda/cuda_reduce.cuh"

namespace strata::STRATA_CUDA_NS {

namespace {

using cuda_detail::block_max;
using cuda_detail::block_sum;

__device__ double row_logsumexp(const float* l, int V) {
  float m = -FLT_MAX;
  for (int v = threadIdx.x; v < V; v += blockDim.x) m = fmaxf(m, l[v]);
  m = block_max(m, -FLT_MAX);
  double s = 0.0;
  for (int v = threadIdx.x; v < V; v += blockDim.x) s += exp((double)l[v] - m);
  s = block_sum(s);
  return m + log(s);
}

__global__ void cross_entropy_forward_kernel(float* losses, const float* logits, const int32_t* targets, int V,
                                             int ignore_index) {
  const size_t n = blockIdx.x;
  const int t = targets[n];
  if (t == ignore_index) {
    if (threadIdx.x == 0) losses[n] = 0.0f;
    return;
  }
  const float* l = logits + n * V;
  const double lse = row_logsumexp(l, V);
  if (threadIdx.x == 0) losses[n] = (float)(lse - l[t]);
}

__global__ void cross_entropy_backward_kernel(float* dlogits, const float* logits, const int32_t* targets,
                                              float scale, int V, int ignore_index) {
  const size_t n = blockIdx.x;
  const int t = targets[n];
  float* d = dlogits + n * V;
  if (t == ignore_index) {
    for (int v = threadIdx.x; v < V; v += blockDim.x) d[v] = 0.0f;
    return;
  }
  const float* l = logits + n * V;
  const double lse = row_logsumexp(l, V);  // every logit is read (and reduced) before the row is overwritten
  for (int v = threadIdx.x; v < V; v += blockDim.x) {
    float g = (float)(scale * exp((double)l[v] - lse));
    if (v == t) g -= scale;
    d[v] = g;
  }
}

}  // namespace

void CudaBackend::cross_entropy_forward(float* losses, const float* logits, const int32_t* targets, int N, int V,
                                        int ignore_index) {
  if (N <= 0) return;
  STRATA_LAUNCH(cross_entropy_forward_kernel, (unsigned)N, row_threads(V), 0, stream())
  (losses, logits, targets, V, ignore_index);
  STRATA_CUDA_LAUNCH_CHECK("cross_entropy_forward_kernel");
}

void CudaBackend::cross_entropy_backward(float* dlogits, const float* logits, const int32_t* targets, float scale,
                                         int N, int V, int ignore_index) {
  if (N <= 0) return;
  STRATA_LAUNCH(cross_entropy_backward_kernel, (unsigned)N, row_threads(V), 0, stream())
  (dlogits, logits, targets, scale, V, ignore_index);
  STRATA_CUDA_LAUNCH_CHECK("cross_entropy_backward_kernel");
}

}  // namespace strata::STRATA_CUDA_NS
