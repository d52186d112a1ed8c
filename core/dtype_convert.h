// Conversions between the storage dtypes of checkpoints (F32, BF16, F16) and fp32 compute.
// BF16/F16 from fp32 round to nearest even; NaN stays NaN, overflow becomes Inf (IEEE semantics).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/dtype.h"

namespace strata {

// Inline: the per-element loops of the bf16 engine (AdamW, widening, rounding) vectorise through them.
inline float bf16_to_f32(uint16_t h) {
  const uint32_t u = uint32_t{h} << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
inline uint16_t f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  // Round to nearest even on the 16 dropped bits; a carry out of the mantissa correctly bumps the exponent
  // (and turns values at or beyond the bf16 overflow threshold into Inf). NaN stays NaN (made quiet). A select, not
  // a branch: the conversion loops vectorise.
  const uint32_t rounded = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
  const uint32_t quiet_nan = (u >> 16) | 0x0040u;
  return static_cast<uint16_t>((u & 0x7FFFFFFFu) > 0x7F800000u ? quiet_nan : rounded);
}
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);

// dst[n] (fp32) from src[n] of dtype `from` (src may be unaligned, e.g. inside an mmapped file).
void convert_to_f32(float* dst, const void* src, DType from, size_t n);
// dst[n] of dtype `to` from src[n] fp32.
void convert_from_f32(void* dst, const float* src, DType to, size_t n);

}  // namespace strata
