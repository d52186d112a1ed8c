// LisaSampler: a partial Fisher-Yates shuffle from Rng(seed, period) picks gamma of n_layers blocks.
#include "optim/lisa_sampler.h"

#include <algorithm>
#include <numeric>

#include "core/check.h"
#include "core/rng.h"

namespace strata {

LisaSampler::LisaSampler(int n_layers, int gamma, int interval, uint64_t seed)
    : n_layers_(n_layers), gamma_(gamma), interval_(interval), seed_(seed) {
  STRATA_USER_CHECK(gamma >= 1 && gamma <= n_layers, "lisa.layers must be in [1, " + std::to_string(n_layers) +
                                                         "] (the model's blocks), got " + std::to_string(gamma));
  STRATA_USER_CHECK(interval >= 1, "lisa.interval must be >= 1, got " + std::to_string(interval));
}

std::vector<int> LisaSampler::active_at(int step) const {
  Rng rng(seed_ ^ (0xA5A5A5A5ull + (uint64_t)period_of(step) * 0x9E3779B97F4A7C15ull));
  std::vector<int> all(n_layers_);
  std::iota(all.begin(), all.end(), 0);
  for (int i = 0; i < gamma_; ++i) std::swap(all[i], all[i + rng.below(n_layers_ - i)]);
  std::vector<int> out(all.begin(), all.begin() + gamma_);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace strata
