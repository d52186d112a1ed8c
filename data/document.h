// Document: one training example as token ids with a per-token loss mask, the unit every dataset reader produces
// and the packer consumes. mask[i] = 1 when predicting tokens[i] (from the tokens before it) counts in the loss.
#pragma once
#include <cstdint>
#include <vector>

namespace strata {

struct Document {
  std::vector<int32_t> tokens;
  std::vector<uint8_t> mask;  // same length as tokens
};

}  // namespace strata
