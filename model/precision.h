// Precision: how a model stores and multiplies its weights. F32: everything fp32 (the CPU engine's default).
// BF16: the mixed-precision engine: bf16 weight matrices, embedding and their gradients, fp32 activations and norms.
#pragma once
#include <string>

namespace strata {

enum class Precision { F32, BF16 };

// "fp32" | "bf16"; throws naming `key` (e.g. "train.precision") for anything else.
Precision parse_precision(const std::string& s, const std::string& key);
const char* to_string(Precision p);

}  // namespace strata
