// Conversions between the storage dtypes of checkpoints (F32, BF16, F16) and fp32 compute.
// BF16/F16 from fp32 round to nearest even; NaN stays NaN, overflow becomes Inf (IEEE semantics).
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace strata {

float bf16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float f);
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);

// dst[n] (fp32) from src[n] of dtype `from` (src may be unaligned, e.g. inside an mmapped file).
void convert_to_f32(float* dst, const void* src, DType from, size_t n);
// dst[n] of dtype `to` from src[n] fp32.
void convert_from_f32(void* dst, const float* src, DType to, size_t n);

}  // namespace strata
