// Implements dtype_convert.h: scalar bf16/f16 <-> f32 conversions (bit-exact, round to nearest even) and the bulk
// converters used when loading and saving checkpoints. Bit casts go through memcpy; sources may be unaligned.
#include "core/dtype_convert.h"

#include <cstring>

#include "core/check.h"

namespace strata {

namespace {

uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

float float_of(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// Bulk conversions fan out over OpenMP threads only when there is enough work to pay for it.
constexpr size_t kParallelMin = size_t{1} << 18;

}  // namespace

float f16_to_f32(uint16_t h) {
  const uint32_t sign = uint32_t{h & 0x8000u} << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu;
  uint32_t mant = h & 0x3FFu;
  if (exp == 0x1F) return float_of(sign | 0x7F800000u | (mant << 13));  // Inf, NaN (payload kept)
  if (exp != 0) return float_of(sign | ((exp + 112u) << 23) | (mant << 13));
  if (mant == 0) return float_of(sign);  // signed zero
  // Subnormal: mant x 2^-24. Normalize so the leading one becomes the implicit bit.
  int e = -1;
  do {
    mant <<= 1;
    ++e;
  } while ((mant & 0x400u) == 0);
  return float_of(sign | (static_cast<uint32_t>(112 - e) << 23) | ((mant & 0x3FFu) << 13));
}

uint16_t f32_to_f16(float f) {
  const uint32_t u = bits_of(f);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const uint32_t a = u & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return static_cast<uint16_t>(sign | 0x7E00u | ((a >> 13) & 0x3FFu));  // quiet NaN
  // 65520 is halfway between 65504 (the largest finite half, odd mantissa) and 65536: ties to even give Inf.
  if (a >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);
  if (a < 0x38800000u) {  // below 2^-14: the result is a half subnormal (or zero)
    const uint32_t e = a >> 23;
    if (e < 102) return sign;  // below 2^-25 (f32 subnormals included): rounds to zero
    const uint32_t m = (a & 0x7FFFFFu) | 0x800000u;
    const uint32_t shift = 126 - e;  // 14..24: the result mantissa is m x 2^-shift
    uint32_t q = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1u))) ++q;  // may carry into the smallest normal, which is correct
    return static_cast<uint16_t>(sign | q);
  }
  const uint32_t r = a - (112u << 23);  // rebias the exponent from 127 to 15
  return static_cast<uint16_t>(sign | ((r + 0xFFFu + ((r >> 13) & 1u)) >> 13));
}

void convert_to_f32(float* dst, const void* src, DType from, size_t n) {
  const auto* s = static_cast<const unsigned char*>(src);
  switch (from) {
    case DType::F32:
      if (n) std::memcpy(dst, s, n * sizeof(float));
      return;
    case DType::BF16:
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
      for (size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, s + 2 * i, 2);
        dst[i] = bf16_to_f32(h);
      }
      return;
    case DType::F16:
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
      for (size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, s + 2 * i, 2);
        dst[i] = f16_to_f32(h);
      }
      return;
  }
  STRATA_FAIL("convert_to_f32: unknown source dtype code " + std::to_string(static_cast<int>(from)) +
              " (supported: F32, F16, BF16)");
}

void convert_from_f32(void* dst, const float* src, DType to, size_t n) {
  auto* d = static_cast<unsigned char*>(dst);
  switch (to) {
    case DType::F32:
      if (n) std::memcpy(d, src, n * sizeof(float));
      return;
    case DType::BF16:
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
      for (size_t i = 0; i < n; ++i) {
        const uint16_t h = f32_to_bf16(src[i]);
        std::memcpy(d + 2 * i, &h, 2);
      }
      return;
    case DType::F16:
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
      for (size_t i = 0; i < n; ++i) {
        const uint16_t h = f32_to_f16(src[i]);
        std::memcpy(d + 2 * i, &h, 2);
      }
      return;
  }
  STRATA_FAIL("convert_from_f32: unknown destination dtype code " + std::to_string(static_cast<int>(to)) +
              " (supported: F32, F16, BF16)");
}

}  // namespace strata
