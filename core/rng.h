// Seeded, platform-independent random numbers (xoshiro256** seeded by splitmix64, Box-Muller normals).
// std::normal_distribution differs between standard libraries, so model init uses this instead.
#pragma once
#include <cstdint>

namespace strata {

class Rng {
 public:
  explicit Rng(uint64_t seed);
  uint64_t next_u64();
  // Uniform in [0, 1) with 24 bits of precision.
  float uniform();
  // Uniform integer in [0, n).
  uint64_t below(uint64_t n);
  // Standard normal (mean 0, std 1), Box-Muller on doubles.
  double normal();

 private:
  uint64_t s_[4];
  bool has_spare_ = false;
  double spare_ = 0.0;
};

}  // namespace strata
