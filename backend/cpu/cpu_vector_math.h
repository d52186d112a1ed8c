// Elementwise math the CPU kernels call inside vectorized loops: exp as straight-line float arithmetic (no libm
// call, no branch), so `#pragma omp simd` loops over it compile to AVX-512/AVX2 code. Accuracy: tests/test_vector_math.
#pragma once
#include <bit>
#include <cstdint>
#include <limits>

namespace strata {

// e^x within 2 ulp for x in [-87.3, 88.7]; +inf above, 0 below (results that would be subnormal flush to 0); NaN in,
// NaN out. Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2, then a degree-6 polynomial for e^r (Cephes' minimax
// coefficients), scaled by 2^n through the exponent bits.
#pragma omp declare simd notinbranch
inline float exp_vec(float x) {
  constexpr float kHi = 88.72283f, kLo = -87.33654f;  // ln(FLT_MAX), ln(FLT_MIN)
  const float xc = x > kHi ? kHi : (x < kLo ? kLo : x);  // NaN compares false: it stays NaN
  constexpr float kShift = 12582912.0f;                  // 1.5 * 2^23: adding it rounds to an integer
  const float n = (xc * 1.44269504088896341f + kShift) - kShift;
  float r = xc - n * 0.693359375f;  // ln2 in two parts: the first exact in float
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float er = p * r * r + r + 1.0f;
  // 2^n for n in [-126, 128]: 2^(n/2 rounded down) * 2^(the rest), so n = 128 (x near ln(FLT_MAX)) does not overflow
  const int32_t ni = (int32_t)n, h = ni >> 1;
  const float s1 = std::bit_cast<float>((h + 127) << 23), s2 = std::bit_cast<float>((ni - h + 127) << 23);
  const float y = er * s1 * s2;
  return x > kHi ? std::numeric_limits<float>::infinity() : (x < kLo ? 0.0f : y);
}

// 1 / (1 + e^-x), the logistic sigmoid.
#pragma omp declare simd notinbranch
inline float sigmoid_vec(float x) { return 1.0f / (1.0f + exp_vec(-x)); }

}  // namespace strata
