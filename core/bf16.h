// bf16: the storage type of working weights and gradients in the mixed-precision engine (the upper 16 bits of an
// IEEE fp32). Host code converts with core/dtype_convert.h; CUDA code reinterprets it as __nv_bfloat16.
#pragma once
#include <cstdint>

namespace strata {

using bf16 = uint16_t;  // the bit pattern of a bfloat16 value

}  // namespace strata
