// Test helper for training runs: every parameter blob of a run folder's newest checkpoint (or of an HF folder),
// concatenated, for bitwise comparisons of final weights.
#pragma once
#include <string>
#include <vector>

namespace strata::test {

std::vector<unsigned char> final_weights(const std::string& run_dir);

}  // namespace strata::test
