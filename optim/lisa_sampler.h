// LISA layer sampler: every `interval` steps, `gamma` distinct blocks drawn uniformly from [0, n_layers).
// Stateless: the set of period p depends only on (seed, p), so resuming at any step reproduces it exactly.
#pragma once
#include <cstdint>
#include <vector>

namespace strata {

class LisaSampler {
 public:
  LisaSampler(int n_layers, int gamma, int interval, uint64_t seed);
  // Active blocks (sorted) at optimizer step `step` (0-based).
  std::vector<int> active_at(int step) const;
  int period_of(int step) const { return step / interval_; }
  bool resamples_at(int step) const { return step % interval_ == 0; }

 private:
  int n_layers_, gamma_, interval_;
  uint64_t seed_;
};

}  // namespace strata
