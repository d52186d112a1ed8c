// Choosing the next token from a row of logits (for `strata generate`, chat and training samples): greedy, or a
// seeded draw after temperature, top-k and top-p, applied in that order as HF transformers' warpers do.
#pragma once
#include <vector>

#include "core/rng.h"

namespace strata {

struct SamplingOptions {
  float temperature = 0.0f;  // 0: greedy (argmax, the lowest id on ties); > 0: logits / temperature
  int top_k = 0;             // > 0: keep the k largest logits (and any tied with the k-th); 0: all
  float top_p = 1.0f;        // < 1: keep the most probable tokens until their mass reaches top_p (at least one)
};

// Throws a UserError naming the option when it is out of range (temperature < 0 or not finite, top_k < 0,
// top_p outside (0, 1]).
void validate(const SamplingOptions& o);

// The distribution a draw uses: probabilities over the V ids (zero outside the kept set), renormalised, in double.
// With temperature 0 it is one-hot on the argmax.
std::vector<double> sampling_distribution(const float* logits, int V, const SamplingOptions& o);

// One token id: the argmax for temperature 0, else inverse-CDF sampling of sampling_distribution with one
// rng.uniform() draw (the same seed gives the same ids).
int sample_token(const float* logits, int V, const SamplingOptions& o, Rng& rng);

}  // namespace strata
