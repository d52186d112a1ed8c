// Token sampling against its definitions: greedy is the argmax, temperature is softmax(l / T), top-k keeps the k
// largest logits (and ties), top-p keeps the smallest most-probable set reaching the mass, draws follow the
// distribution (200k draws, 5 sigma per id), a seed reproduces its ids, and bad options are named.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/check.h"
#include "engine/token_sampler.h"

namespace strata {
namespace {

const std::vector<float> kLogits = {1.0f, 3.0f, -2.0f, 2.5f, 0.0f, 3.0f, -1.0f, 1.5f};

std::vector<double> softmax(const std::vector<float>& l, double T) {
  double m = -INFINITY, s = 0;
  for (float x : l) m = std::max(m, x / T);
  std::vector<double> p;
  for (float x : l) s += p.emplace_back(std::exp(x / T - m));
  for (double& x : p) x /= s;
  return p;
}

TEST(TokenSampler, GreedyIsTheArgmaxWithTheLowestIdOnTies) {
  Rng rng(1);
  EXPECT_EQ(sample_token(kLogits.data(), (int)kLogits.size(), {}, rng), 1);  // 3.0 at ids 1 and 5
  const std::vector<double> p = sampling_distribution(kLogits.data(), (int)kLogits.size(), {});
  EXPECT_EQ(p[1], 1.0);
  EXPECT_EQ(std::count(p.begin(), p.end(), 0.0), (long)kLogits.size() - 1);
}

TEST(TokenSampler, TemperatureIsTheSoftmaxOfScaledLogits) {
  for (float T : {0.5f, 1.0f, 2.0f}) {
    const std::vector<double> p = sampling_distribution(kLogits.data(), (int)kLogits.size(), {T, 0, 1.0f});
    const std::vector<double> want = softmax(kLogits, T);
    for (size_t i = 0; i < p.size(); ++i) EXPECT_NEAR(p[i], want[i], 1e-12) << "T " << T << " id " << i;
  }
}

TEST(TokenSampler, TopKKeepsTheKLargestAndTheirTies) {
  // k = 3: ids 1, 5 (3.0) and 3 (2.5), renormalised in proportion to exp(l).
  std::vector<double> p = sampling_distribution(kLogits.data(), (int)kLogits.size(), {1.0f, 3, 1.0f});
  const std::vector<double> s = softmax(kLogits, 1.0);
  const double kept = s[1] + s[5] + s[3];
  for (size_t i = 0; i < p.size(); ++i)
    EXPECT_NEAR(p[i], (i == 1 || i == 5 || i == 3) ? s[i] / kept : 0.0, 1e-12) << i;
  // k = 1 with two ids tied for the largest keeps both.
  p = sampling_distribution(kLogits.data(), (int)kLogits.size(), {1.0f, 1, 1.0f});
  EXPECT_NEAR(p[1], 0.5, 1e-12);
  EXPECT_NEAR(p[5], 0.5, 1e-12);
}

TEST(TokenSampler, TopPKeepsTheSmallestMostProbableSetReachingTheMass) {
  const std::vector<double> s = softmax(kLogits, 1.0);
  for (float top_p : {0.05f, 0.3f, 0.5f, 0.8f, 0.95f, 0.999f}) {
    const std::vector<double> p = sampling_distribution(kLogits.data(), (int)kLogits.size(), {1.0f, 0, top_p});
    double kept = 0, least = 1;
    for (size_t i = 0; i < p.size(); ++i)
      if (p[i] > 0) {
        kept += s[i];
        least = std::min(least, s[i]);
      }
    EXPECT_GE(kept, top_p - 1e-12) << "the kept mass reaches top_p " << top_p;
    EXPECT_LT(kept - least, top_p) << "without its least probable token it would not: minimal, top_p " << top_p;
    for (size_t i = 0; i < p.size(); ++i)
      if (p[i] > 0) EXPECT_NEAR(p[i], s[i] / kept, 1e-12);
      else
        for (size_t j = 0; j < p.size(); ++j)
          if (p[j] > 0) EXPECT_GE(s[j], s[i]) << "a dropped token is never more probable than a kept one";
  }
}

TEST(TokenSampler, DrawsFollowTheDistributionAndASeedReproducesThem) {
  const SamplingOptions o{0.8f, 5, 0.9f};
  const int V = (int)kLogits.size(), draws = 200000;
  const std::vector<double> p = sampling_distribution(kLogits.data(), V, o);
  std::vector<int> count((size_t)V, 0);
  Rng rng(42);
  std::vector<int> first;
  for (int d = 0; d < draws; ++d) {
    const int id = sample_token(kLogits.data(), V, o, rng);
    ++count[(size_t)id];
    if (d < 50) first.push_back(id);
  }
  for (int i = 0; i < V; ++i) {
    if (p[i] == 0) {
      EXPECT_EQ(count[i], 0) << "id " << i << " is outside the kept set";
      continue;
    }
    const double sigma = std::sqrt(draws * p[i] * (1 - p[i]));
    EXPECT_NEAR(count[i], draws * p[i], 5 * sigma + 1) << "id " << i;
  }
  Rng again(42), other(43);
  std::vector<int> same, different;
  for (int d = 0; d < 50; ++d) {
    same.push_back(sample_token(kLogits.data(), V, o, again));
    different.push_back(sample_token(kLogits.data(), V, o, other));
  }
  EXPECT_EQ(same, first);
  EXPECT_NE(different, first);
}

TEST(TokenSampler, BadOptionsAreNamed) {
  auto message = [](SamplingOptions o) {
    try {
      validate(o);
    } catch (const StrataError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(message({-1.0f, 0, 1.0f}).find("--temperature"), std::string::npos);
  EXPECT_NE(message({NAN, 0, 1.0f}).find("--temperature"), std::string::npos);
  EXPECT_NE(message({1.0f, -2, 1.0f}).find("--top-k"), std::string::npos);
  EXPECT_NE(message({1.0f, 0, 0.0f}).find("--top-p"), std::string::npos);
  EXPECT_NE(message({1.0f, 0, 1.5f}).find("--top-p"), std::string::npos);
  EXPECT_EQ(message({0.7f, 40, 0.9f}), "");
}

}  // namespace
}  // namespace strata
