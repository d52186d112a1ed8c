// Rotary position embedding (HF rotate-half convention) forward and backward on the CPU.
// Pair i of a head rotates elements i and i+HS/2 by angle pos * inv_freq(i); backward rotates by -angle.
#include <cmath>
#include <vector>

#include "backend/cpu/cpu_backend.h"

namespace strata {

float rope_inv_freq(int i, int HS, float theta) {
  const float exponent = (float)(2 * i) / (float)HS;
  return 1.0f / std::pow(theta, exponent);
}

// sign = +1 forward rotation, -1 inverse rotation (backward).
static void rope_apply(float* out, const float* in, const int32_t* pos, int B, int T, int H, int HS, float theta,
                       float sign) {
  const int half = HS / 2;
  std::vector<float> inv(half);
  for (int i = 0; i < half; ++i) inv[i] = rope_inv_freq(i, HS, theta);
#pragma omp parallel for schedule(static) if ((size_t)B * T * H * HS >= kParallelMinWork)
  for (int bt = 0; bt < B * T; ++bt) {
    const float p = (float)(pos ? pos[bt] : bt % T);
    float cs[512], sn[512];  // HS/2 <= 512 is checked by ModelConfig
    for (int i = 0; i < half; ++i) {
      const float f = p * inv[i];
      cs[i] = std::cos(f);
      sn[i] = sign * std::sin(f);
    }
    for (int h = 0; h < H; ++h) {
      const float* x = in + ((size_t)bt * H + h) * HS;
      float* o = out + ((size_t)bt * H + h) * HS;
      for (int i = 0; i < half; ++i) {
        const float x1 = x[i], x2 = x[i + half];
        o[i] = x1 * cs[i] - x2 * sn[i];
        o[i + half] = x2 * cs[i] + x1 * sn[i];
      }
    }
  }
}

void CpuBackend::rope_forward(float* out, const float* in, const int32_t* pos, int B, int T, int H, int HS,
                              float theta) {
  rope_apply(out, in, pos, B, T, H, HS, theta, 1.0f);
}

void CpuBackend::rope_backward(float* din, const float* dout, const int32_t* pos, int B, int T, int H, int HS,
                               float theta) {
  rope_apply(din, dout, pos, B, T, H, HS, theta, -1.0f);
}

}  // namespace strata
