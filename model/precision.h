// Precision: how a model stores and multiplies its weights. F32: everything fp32 (the CPU engine's default).
// BF16: the mixed-precision engine: bf16 weight matrices, embedding and their gradients, fp32 activations and norms.
#pragma once
#include <array>

#include "core/enum_names.h"

namespace strata {

enum class Precision { F32, BF16 };
constexpr std::array<EnumName<Precision>, 2> enum_names(Precision) {
  return {{{Precision::F32, "fp32"}, {Precision::BF16, "bf16"}}};
}
inline const char* to_string(Precision p) { return enum_name(p).data(); }

}  // namespace strata
