// Rotary position embedding (HF rotate-half convention) forward and backward on CUDA. Pair i of a head rotates
// elements i and i+HS/2 by angle pos * inv_freq(i); backward rotates by -angle. The inverse frequencies are computed
// on the host with the CPU backend's formula and passed by value, so both backends rotate by the same angles.
#include <cmath>

#include "backend/cuda/cuda_backend_impl.h"

namespace strata::STRATA_CUDA_NS {

namespace {

constexpr int kMaxHalf = 512;  // HS/2 <= 512 is checked by ModelConfig

struct RopeFreqs {
  float inv[kMaxHalf];
};

// Same formula as rope_inv_freq in backend/cpu/cpu_rope.cpp.
float host_inv_freq(int i, int HS, float theta) {
  const float exponent = (float)(2 * i) / (float)HS;
  return 1.0f / std::pow(theta, exponent);
}

// One thread per (row, pair); in-place safe: each thread reads both elements before writing them.
__global__ void rope_kernel(float* out, const float* in, const int32_t* pos, RopeFreqs f, int T, int H, int HS,
                            float sign, size_t total) {
  const int half = HS / 2;
  for (size_t idx = blockIdx.x * (size_t)blockDim.x + threadIdx.x; idx < total;
       idx += (size_t)gridDim.x * blockDim.x) {
    const int i = (int)(idx % (size_t)half);
    const size_t row = idx / (size_t)half;  // (bt, h)
    const size_t bt = row / (size_t)H;
    const float p = (float)(pos ? pos[bt] : (int)(bt % (size_t)T));
    const float a = p * f.inv[i];
    const float cs = cosf(a), sn = sign * sinf(a);
    const float* x = in + row * HS;
    float* o = out + row * HS;
    const float x1 = x[i], x2 = x[i + half];
    o[i] = x1 * cs - x2 * sn;
    o[i + half] = x2 * cs + x1 * sn;
  }
}

}  // namespace

static void launch_rope(cudaStream_t stream, int max_threads, unsigned max_blocks, float* out, const float* in,
                        const int32_t* pos, int B, int T, int H, int HS, float theta, float sign) {
  const int half = HS / 2;
  STRATA_CHECK(half <= kMaxHalf, "rope: head size " + std::to_string(HS) + " exceeds the CUDA limit of " +
                                     std::to_string(2 * kMaxHalf));
  const size_t total = (size_t)B * T * H * half;
  if (total == 0) return;
  RopeFreqs f{};
  for (int i = 0; i < half; ++i) f.inv[i] = host_inv_freq(i, HS, theta);
  const int threads = std::min(256, max_threads);
  const size_t want = (total + threads - 1) / threads;
  const unsigned blocks = (unsigned)std::max<size_t>(1, std::min<size_t>(want, max_blocks));
  STRATA_LAUNCH(rope_kernel, blocks, threads, 0, stream)(out, in, pos, f, T, H, HS, sign, total);
  STRATA_CUDA_LAUNCH_CHECK("rope_kernel");
}

void CudaBackend::rope_forward(float* out, const float* in, const int32_t* pos, int B, int T, int H, int HS,
                               float theta) {
  launch_rope(stream(), max_threads_per_block_, (unsigned)num_sms_ * 32, out, in, pos, B, T, H, HS, theta, 1.0f);
}

void CudaBackend::rope_backward(float* din, const float* dout, const int32_t* pos, int B, int T, int H, int HS,
                                float theta) {
  launch_rope(stream(), max_threads_per_block_, (unsigned)num_sms_ * 32, din, dout, pos, B, T, H, HS, theta, -1.0f);
}

}  // namespace strata::STRATA_CUDA_NS
