// exp_vec (backend/cpu/cpu_vector_math.h) against libm's double exp: ulp error over a dense sweep and at the edges,
// and the special values (inf, NaN, under/overflow), scalar and in a vectorized loop.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <limits>
#include <vector>

#include "backend/cpu/cpu_vector_math.h"

namespace strata {
namespace {

// Distance in units in the last place of the exact value's float neighbourhood.
double ulps(float got, double exact) {
  const float e = (float)exact;
  const double ulp = std::nextafter(e, std::numeric_limits<float>::infinity()) - e;
  return std::fabs((double)got - exact) / ulp;
}

TEST(VectorMath, ExpIsWithinTwoUlpOverItsRange) {
  double worst = 0;
  float at = 0;
  for (float x = -87.0f; x < 88.5f; x += 0.000731f) {
    const double u = ulps(exp_vec(x), std::exp((double)x));
    if (u > worst) worst = u, at = x;
  }
  EXPECT_LE(worst, 2.0) << "at x = " << at;
  RecordProperty("worst_ulp", std::to_string(worst));
  std::printf("exp_vec: worst %.2f ulp at x = %g\n", worst, at);
  for (float x : {0.0f, -0.0f, 1e-8f, -1e-8f, 1.0f, -1.0f, 88.7f, -87.3f, 0.34657359f, -0.34657359f})
    EXPECT_LE(ulps(exp_vec(x), std::exp((double)x)), 2.0) << "x = " << x;
  EXPECT_EQ(exp_vec(0.0f), 1.0f);
}

TEST(VectorMath, ExpSpecialValues) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(exp_vec(inf), inf);
  EXPECT_EQ(exp_vec(89.0f), inf);
  EXPECT_EQ(exp_vec(-inf), 0.0f);
  EXPECT_EQ(exp_vec(-100.0f), 0.0f);
  EXPECT_TRUE(std::isnan(exp_vec(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_TRUE(std::isfinite(exp_vec(88.72f)));
  EXPECT_GT(exp_vec(88.72f), 3.3e38f);
}

TEST(VectorMath, VectorizedLoopEqualsScalarCalls) {
  std::vector<float> x(4099), y(x.size());
  for (size_t i = 0; i < x.size(); ++i) x[i] = -90.0f + 180.0f * (float)i / (float)x.size();
  x[17] = std::numeric_limits<float>::quiet_NaN();
#pragma omp simd
  for (size_t i = 0; i < x.size(); ++i) y[i] = exp_vec(x[i]);
  for (size_t i = 0; i < x.size(); ++i) {
    const float s = exp_vec(x[i]);
    if (std::isnan(s)) EXPECT_TRUE(std::isnan(y[i]));
    else EXPECT_EQ(y[i], s) << "x = " << x[i];
  }
}

TEST(VectorMath, SigmoidMatchesItsDefinition) {
  for (float x = -30.0f; x < 30.0f; x += 0.0137f) {
    const double exact = 1.0 / (1.0 + std::exp(-(double)x));
    EXPECT_NEAR(sigmoid_vec(x), exact, 2e-7 * exact) << "x = " << x;
  }
  EXPECT_EQ(sigmoid_vec(-200.0f), 0.0f);
  EXPECT_EQ(sigmoid_vec(200.0f), 1.0f);
}

}  // namespace
}  // namespace strata
