// Parsing and naming of the engine precisions (train.precision).
#include "model/precision.h"

#include "core/check.h"

namespace strata {

Precision parse_precision(const std::string& s, const std::string& key) {
  if (s == "fp32") return Precision::F32;
  if (s == "bf16") return Precision::BF16;
  STRATA_FAIL(key + ": unknown precision '" + s + "': use \"fp32\" or \"bf16\"");
}

const char* to_string(Precision p) { return p == Precision::BF16 ? "bf16" : "fp32"; }

}  // namespace strata
