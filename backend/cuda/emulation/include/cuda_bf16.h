// CPU emulation of <cuda_bf16.h>: __nv_bfloat16 as its 16 raw bits, conversions rounding to nearest even (NaN stays
// NaN), and the two-element __nv_bfloat162, with the toolkit's memory layout (.x at the lower address).
#pragma once
#include <cstdint>

#include "backend/cuda/emulation/include/cuda_runtime.h"
#include "core/dtype_convert.h"

namespace strata::cuda_emu {

struct __nv_bfloat16 {
  uint16_t bits;
};
struct alignas(4) __nv_bfloat162 {
  __nv_bfloat16 x, y;
};

inline __nv_bfloat16 __float2bfloat16_rn(float f) {
  return {::strata::f32_to_bf16(f)};
}
inline __nv_bfloat16 __float2bfloat16(float f) {
  return __float2bfloat16_rn(f);
}
inline float __bfloat162float(__nv_bfloat16 h) {
  return ::strata::bf16_to_f32(h.bits);
}
inline __nv_bfloat162 __floats2bfloat162_rn(float a, float b) {
  return {__float2bfloat16_rn(a), __float2bfloat16_rn(b)};
}
inline float2 __bfloat1622float2(__nv_bfloat162 v) {
  return {__bfloat162float(v.x), __bfloat162float(v.y)};
}

}  // namespace strata::cuda_emu
