// Token sampling: softmax in double after temperature, top-k by the k-th largest logit, top-p by a descending sort,
// renormalisation, then one uniform draw against the cumulative mass in id order.
#include "engine/token_sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/check.h"

namespace strata {

void validate(const SamplingOptions& o) {
  STRATA_USER_CHECK(std::isfinite(o.temperature) && o.temperature >= 0,
                    "--temperature " + std::to_string(o.temperature) + ": give 0 (greedy) or a positive number");
  STRATA_USER_CHECK(o.top_k >= 0, "--top-k " + std::to_string(o.top_k) + ": give 0 (off) or a positive count");
  STRATA_USER_CHECK(o.top_p > 0 && o.top_p <= 1,
                    "--top-p " + std::to_string(o.top_p) + ": give a probability mass in (0, 1]");
}

namespace {

int argmax(const float* logits, int V) {
  int best = 0;
  for (int i = 1; i < V; ++i)
    if (logits[i] > logits[best]) best = i;
  return best;
}

}  // namespace

std::vector<double> sampling_distribution(const float* logits, int V, const SamplingOptions& o) {
  validate(o);
  STRATA_CHECK(V > 0, "sampling: empty logits row");
  std::vector<double> p((size_t)V, 0.0);
  if (o.temperature == 0) {
    p[argmax(logits, V)] = 1.0;
    return p;
  }
  // top-k: every logit at least the k-th largest stays (ties with it too).
  double floor = -INFINITY;
  if (o.top_k > 0 && o.top_k < V) {
    std::vector<float> sorted(logits, logits + V);
    std::nth_element(sorted.begin(), sorted.begin() + (o.top_k - 1), sorted.end(), std::greater<float>());
    floor = sorted[o.top_k - 1];
  }
  double max_z = -INFINITY;
  for (int i = 0; i < V; ++i)
    if (logits[i] >= floor) max_z = std::max(max_z, (double)logits[i] / o.temperature);
  double sum = 0;
  for (int i = 0; i < V; ++i)
    if (logits[i] >= floor) sum += p[i] = std::exp((double)logits[i] / o.temperature - max_z);
  for (double& x : p) x /= sum;
  if (o.top_p < 1) {
    // The most probable first (ids ascending among equals); keep until the kept mass reaches top_p.
    std::vector<int> order((size_t)V);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return p[a] > p[b]; });
    double kept = 0;
    size_t n = 0;
    while (n < order.size() && p[order[n]] > 0 && (n == 0 || kept < o.top_p)) kept += p[order[n++]];
    for (size_t j = n; j < order.size(); ++j) p[order[j]] = 0;
    for (double& x : p) x /= kept;
  }
  return p;
}

int sample_token(const float* logits, int V, const SamplingOptions& o, Rng& rng) {
  if (o.temperature == 0) {
    validate(o);
    return argmax(logits, V);
  }
  const std::vector<double> p = sampling_distribution(logits, V, o);
  const double u = rng.uniform();
  double c = 0;
  int last = 0;
  for (int i = 0; i < V; ++i) {
    if (p[i] <= 0) continue;
    c += p[i];
    last = i;
    if (u < c) return i;
  }
  return last;  // u within rounding of 1: the last token with mass
}

}  // namespace strata
