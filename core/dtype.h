// DType: the storage element types of parameters, checkpoints and safetensors files (F32, BF16, F16),
// with their sizes and safetensors names.
#pragma once
#include <cstddef>
#include <cstdint>

namespace strata {

enum class DType : uint8_t { F32, BF16, F16 };
size_t dtype_size(DType t);
const char* to_string(DType t);  // "F32", "BF16", "F16" (the safetensors spelling)

}  // namespace strata
