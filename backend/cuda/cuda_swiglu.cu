// SwiGLU gate (silu(gate) * up) forward and backward on CUDA, elementwise, same formulas as the CPU backend.
// silu(g) = g * sigmoid(g); d silu/dg = s + g s (1 - s).
#include "backend/cuda/cuda_backend_impl.h"

namespace strata::STRATA_CUDA_NS {

namespace {

__global__ void swiglu_forward_kernel(float* out, const float* gate, const float* up, size_t n) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    const float g = gate[i];
    out[i] = (g / (1.0f + expf(-g))) * up[i];
  }
}

__global__ void swiglu_backward_kernel(float* dgate, float* dup, const float* dout, const float* gate,
                                       const float* up, size_t n) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    const float g = gate[i];
    const float s = 1.0f / (1.0f + expf(-g));
    const float silu = g * s;
    dgate[i] += dout[i] * up[i] * (s + g * s * (1.0f - s));
    dup[i] += dout[i] * silu;
  }
}

}  // namespace

void CudaBackend::swiglu_forward(float* out, const float* gate, const float* up, size_t n) {
  if (n == 0) return;
  const int threads = std::min(256, max_threads_per_block_);
  STRATA_LAUNCH(swiglu_forward_kernel, grid_for(n, threads), threads, 0, stream())(out, gate, up, n);
  STRATA_CUDA_LAUNCH_CHECK("swiglu_forward_kernel");
}

void CudaBackend::swiglu_backward(float* dgate, float* dup, const float* dout, const float* gate, const float* up,
                                  size_t n) {
  if (n == 0) return;
  const int threads = std::min(256, max_threads_per_block_);
  STRATA_LAUNCH(swiglu_backward_kernel, grid_for(n, threads), threads, 0, stream())(dgate, dup, dout, gate, up, n);
  STRATA_CUDA_LAUNCH_CHECK("swiglu_backward_kernel");
}

}  // namespace strata::STRATA_CUDA_NS
