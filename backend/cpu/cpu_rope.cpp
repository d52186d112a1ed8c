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

namespace {

// cs[i], sn[i] = cos and sign * sin of p * inv[i], i < half.
void rope_angles(float* cs, float* sn, float p, const float* inv, int half, float sign) {
  for (int i = 0; i < half; ++i) {
    const float f = p * inv[i];
    cs[i] = std::cos(f);
    sn[i] = sign * std::sin(f);
  }
}

// The H heads of one token: o = rotate(x) by the angles in cs/sn.
void rope_rotate_token(float* out, const float* in, const float* cs, const float* sn, int H, int HS) {
  const int half = HS / 2;
  for (int h = 0; h < H; ++h) {
    const float* x = in + (size_t)h * HS;
    float* o = out + (size_t)h * HS;
#pragma omp simd
    for (int i = 0; i < half; ++i) {
      const float x1 = x[i], x2 = x[i + half];
      o[i] = x1 * cs[i] - x2 * sn[i];
      o[i + half] = x2 * cs[i] + x1 * sn[i];
    }
  }
}

// sign = +1 forward rotation, -1 inverse rotation (backward). Without `pos` every row of a sequence has position
// t, so each t's angles are computed once for all B rows.
void rope_apply(float* out, const float* in, const int32_t* pos, int B, int T, int H, int HS, float theta,
                float sign) {
  const int half = HS / 2;
  std::vector<float> inv(half);
  for (int i = 0; i < half; ++i) inv[i] = rope_inv_freq(i, HS, theta);
  const size_t row = (size_t)H * HS;
  if (!pos) {
#pragma omp parallel for schedule(static) if ((size_t)B * T * H * HS >= kParallelMinWork)
    for (int t = 0; t < T; ++t) {
      float cs[512], sn[512];  // HS/2 <= 512 is checked by ModelConfig
      rope_angles(cs, sn, (float)t, inv.data(), half, sign);
      for (int b = 0; b < B; ++b) {
        const size_t off = ((size_t)b * T + t) * row;
        rope_rotate_token(out + off, in + off, cs, sn, H, HS);
      }
    }
    return;
  }
#pragma omp parallel for schedule(static) if ((size_t)B * T * H * HS >= kParallelMinWork)
  for (int bt = 0; bt < B * T; ++bt) {
    float cs[512], sn[512];
    rope_angles(cs, sn, (float)pos[bt], inv.data(), half, sign);
    rope_rotate_token(out + (size_t)bt * row, in + (size_t)bt * row, cs, sn, H, HS);
  }
}

}  // namespace

void CpuBackend::rope_forward(float* out, const float* in, const int32_t* pos, int B, int T, int H, int HS,
                              float theta) {
  rope_apply(out, in, pos, B, T, H, HS, theta, 1.0f);
}

void CpuBackend::rope_backward(float* din, const float* dout, const int32_t* pos, int B, int T, int H, int HS,
                               float theta) {
  rope_apply(din, dout, pos, B, T, H, HS, theta, -1.0f);
}

}  // namespace strata
