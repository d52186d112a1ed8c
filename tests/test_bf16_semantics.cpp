// The bf16 ops' documented semantics checked from first principles on the cpu and ref backends: rounded GEMM
// inputs, one rounding of bf16 outputs after the whole sum, exact widening, untouched rows, and master -> working.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "backend/ref/ref_backend.h"
#include "core/dtype_convert.h"
#include "tests/support/tensor_compare.h"

namespace strata {
namespace {

float round_bf16(float x) { return bf16_to_f32(f32_to_bf16(x)); }

std::vector<bf16> to_bf16(const std::vector<float>& v) {
  std::vector<bf16> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = f32_to_bf16(v[i]);
  return out;
}

class Bf16Semantics : public ::testing::TestWithParam<std::string> {
 protected:
  std::unique_ptr<Backend> be() const {
    if (GetParam() == "ref") return std::make_unique<RefBackend>();
    return std::make_unique<CpuBackend>();
  }
};

// out = bf16(x) @ w^T summed in double here: fp32 summation differs by ~1e-7 relative; an unrounded x by ~1e-3.
TEST_P(Bf16Semantics, LinearForwardRoundsItsInput) {
  const int N = 5, IC = 67, OC = 9;
  auto b = be();
  const std::vector<float> x = test::random_vector((size_t)N * IC, 1);
  const std::vector<bf16> w = to_bf16(test::random_vector((size_t)OC * IC, 2, 0.1f));
  std::vector<float> out((size_t)N * OC);
  b->linear_forward_bf16(out.data(), x.data(), w.data(), N, IC, OC);
  double worst_rounded = 0, worst_exact = 0;
  for (int n = 0; n < N; ++n)
    for (int o = 0; o < OC; ++o) {
      double rounded = 0, exact = 0;
      for (int i = 0; i < IC; ++i) {
        const double wv = bf16_to_f32(w[(size_t)o * IC + i]);
        rounded += (double)round_bf16(x[(size_t)n * IC + i]) * wv;
        exact += (double)x[(size_t)n * IC + i] * wv;
      }
      const double got = out[(size_t)n * OC + o];
      worst_rounded = std::max(worst_rounded, std::fabs(got - rounded));
      worst_exact = std::max(worst_exact, std::fabs(got - exact));
    }
  EXPECT_LT(worst_rounded, 2e-6);
  EXPECT_GT(worst_exact, 1e-4) << "x must be rounded to bf16 before the product";
}

// dw = bf16(dw + bf16(dout)^T @ bf16(x)): every element is one rounding of the fp32 sum.
TEST_P(Bf16Semantics, LinearBackwardRoundsTheWeightGradientOnce) {
  const int N = 33, IC = 16, OC = 8;
  auto b = be();
  const std::vector<float> x = test::random_vector((size_t)N * IC, 3);
  const std::vector<float> dout = test::random_vector((size_t)N * OC, 4);
  const std::vector<bf16> w = to_bf16(test::random_vector((size_t)OC * IC, 5, 0.1f));
  std::vector<bf16> dw = to_bf16(test::random_vector((size_t)OC * IC, 6));
  const std::vector<bf16> dw0 = dw;
  std::vector<float> dx((size_t)N * IC, 0.5f);
  b->linear_backward_bf16(dx.data(), dw.data(), dout.data(), x.data(), w.data(), N, IC, OC);
  int off_by_more_than_one_step = 0, ulp_diffs = 0;
  for (int o = 0; o < OC; ++o)
    for (int i = 0; i < IC; ++i) {
      double s = bf16_to_f32(dw0[(size_t)o * IC + i]);
      for (int n = 0; n < N; ++n) s += (double)round_bf16(dout[(size_t)n * OC + o]) * round_bf16(x[(size_t)n * IC + i]);
      const uint16_t want = f32_to_bf16((float)s), got = dw[(size_t)o * IC + i];
      if (want != got) ++ulp_diffs;
      if (std::abs((int)want - (int)got) > 1) ++off_by_more_than_one_step;
    }
  EXPECT_EQ(off_by_more_than_one_step, 0);
  EXPECT_LE(ulp_diffs, OC * IC / 20) << "only sums within fp32 noise of a rounding boundary may differ";
  for (int n = 0; n < N; ++n)
    for (int i = 0; i < IC; ++i) {
      double s = 0.5;
      for (int o = 0; o < OC; ++o)
        s += (double)round_bf16(dout[(size_t)n * OC + o]) * bf16_to_f32(w[(size_t)o * IC + i]);
      EXPECT_NEAR(dx[(size_t)n * IC + i], s, 1e-5) << "dx += bf16(dout) @ w";
    }
}

TEST_P(Bf16Semantics, EmbeddingBackwardTouchesOnlyItsRowsAndRoundsOnce) {
  const int N = 6, C = 5, V = 4;
  auto b = be();
  const std::vector<int32_t> tokens = {2, 0, 2, 2, 0, 2};  // row 1 and 3 untouched
  const std::vector<float> dout = test::random_vector((size_t)N * C, 7);
  std::vector<bf16> table = to_bf16(test::random_vector((size_t)V * C, 8));
  const std::vector<bf16> before = table;
  b->embedding_backward_bf16(table.data(), dout.data(), tokens.data(), N, C, V);
  for (int v = 0; v < V; ++v)
    for (int c = 0; c < C; ++c) {
      float s = bf16_to_f32(before[(size_t)v * C + c]);
      for (int n = 0; n < N; ++n)
        if (tokens[n] == v) s += dout[(size_t)n * C + c];  // fp32, in order of n
      EXPECT_EQ(table[(size_t)v * C + c], f32_to_bf16(s)) << "row " << v << " col " << c;
    }
}

TEST_P(Bf16Semantics, AdamWWritesTheRoundedMasterAsTheWorkingCopy) {
  const size_t n = 257;
  auto b = be();
  std::vector<float> master = test::random_vector(n, 9), m(n, 0.0f), v(n, 0.0f);
  std::vector<float> master32 = master, m32 = m, v32 = v;
  const std::vector<bf16> grad = to_bf16(test::random_vector(n, 10, 0.1f));
  std::vector<float> grad32(n);
  for (size_t i = 0; i < n; ++i) grad32[i] = bf16_to_f32(grad[i]);
  std::vector<bf16> param = to_bf16(master);
  AdamWStep s;
  s.lr = 1e-2f, s.weight_decay = 0.1f, s.step = 3;
  b->adamw_update_bf16(master.data(), param.data(), grad.data(), m.data(), v.data(), n, s);
  b->adamw_update(master32.data(), grad32.data(), m32.data(), v32.data(), n, s);
  for (size_t i = 0; i < n; ++i) {
    EXPECT_EQ(master[i], master32[i]) << "the master update is the fp32 AdamW on the widened gradient";
    EXPECT_EQ(param[i], f32_to_bf16(master[i]));
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, Bf16Semantics, ::testing::Values("cpu", "ref"));

}  // namespace
}  // namespace strata
