// The bf16 ops' documented semantics checked from first principles on the cpu and ref backends, the CUDA backend on
// the CPU emulation of the device ("cuda-emu") and a real GPU ("cuda:0", skipped without one): rounded GEMM inputs,
// one rounding of bf16 outputs after the whole sum, exact widening, untouched rows, and master -> working. Tensors
// live in Device memory (uploaded, the op queued, results downloaded), so the same code runs on every backend.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <vector>

#include "core/dtype_convert.h"
#include "tests/support/backends.h"
#include "tests/support/tensor_compare.h"

namespace strata {
namespace {

float round_bf16(float x) { return bf16_to_f32(f32_to_bf16(x)); }

std::vector<bf16> to_bf16(const std::vector<float>& v) {
  std::vector<bf16> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = f32_to_bf16(v[i]);
  return out;
}

// A Device copy of a host vector; get() waits for the queued work and downloads it.
template <class T>
class Dev {
 public:
  Dev(Backend& be, const std::vector<T>& host)
      : be_(be),
        n_(host.size()),
        buf_(be.alloc(MemoryKind::Device, host.size() * sizeof(T), MemoryCategory::Other, 64)) {
    be.copy(buf_.data(), host.data(), n_ * sizeof(T));
  }
  T* p() const { return buf_.as<T>(); }
  std::vector<T> get() const {
    be_.synchronize();
    std::vector<T> h(n_);
    be_.copy(h.data(), buf_.data(), n_ * sizeof(T));
    return h;
  }

 private:
  Backend& be_;
  size_t n_;
  Buffer buf_;
};

class Bf16Semantics : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string why;
    backend_ = test::make_backend_if_available(GetParam(), &why);
    if (!backend_) GTEST_SKIP() << GetParam() << ": " << why;
  }
  Backend& be() const { return *backend_; }

 private:
  std::unique_ptr<Backend> backend_;
};

// out = bf16(x) @ w^T summed in double here: fp32 summation differs by ~1e-7 relative; an unrounded x by ~1e-3.
void check_linear_forward(Backend& b, int N, int IC, int OC) {
  const std::vector<float> x = test::random_vector((size_t)N * IC, 1);
  const std::vector<bf16> w = to_bf16(test::random_vector((size_t)OC * IC, 2, 0.1f));
  const Dev<float> dx(b, x), dout(b, std::vector<float>((size_t)N * OC));
  const Dev<bf16> dw(b, w);
  b.linear_forward_bf16(dout.p(), dx.p(), dw.p(), N, IC, OC);
  const std::vector<float> out = dout.get();
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
  EXPECT_LT(worst_rounded, 2e-6 * std::max(1.0, IC / 67.0));
  EXPECT_GT(worst_exact, 1e-4) << "x must be rounded to bf16 before the product";
}

// dw = bf16(dw + bf16(dout)^T @ bf16(x)): every element is one rounding of the fp32 sum.
void check_linear_backward(Backend& b, int N, int IC, int OC) {
  const std::vector<float> x = test::random_vector((size_t)N * IC, 3);
  const std::vector<float> dout = test::random_vector((size_t)N * OC, 4);
  const std::vector<bf16> w = to_bf16(test::random_vector((size_t)OC * IC, 5, 0.1f));
  const std::vector<bf16> dw0 = to_bf16(test::random_vector((size_t)OC * IC, 6));
  const Dev<float> d_x(b, x), d_dout(b, dout), d_dx(b, std::vector<float>((size_t)N * IC, 0.5f));
  const Dev<bf16> d_w(b, w), d_dw(b, dw0);
  b.linear_backward_bf16(d_dx.p(), d_dw.p(), d_dout.p(), d_x.p(), d_w.p(), N, IC, OC);
  const std::vector<bf16> dw = d_dw.get();
  const std::vector<float> dx = d_dx.get();
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
      ASSERT_NEAR(dx[(size_t)n * IC + i], s, 1e-5 * std::sqrt(std::max(1.0, OC / 8.0))) << "dx += bf16(dout) @ w";
    }
}

TEST_P(Bf16Semantics, LinearForwardRoundsItsInput) { check_linear_forward(be(), 5, 67, 9); }
TEST_P(Bf16Semantics, LinearBackwardRoundsTheWeightGradientOnce) { check_linear_backward(be(), 33, 16, 8); }
// A weight of 4100 x 2048 (33.6 MB in fp32): the CPU backend widens it in two slices of rows (32 MiB at most).
TEST_P(Bf16Semantics, LinearOpsKeepTheirSemanticsAcrossWeightSlices) {
  check_linear_forward(be(), 3, 2048, 4100);
  check_linear_backward(be(), 3, 2048, 4100);
}

TEST_P(Bf16Semantics, EmbeddingBackwardTouchesOnlyItsRowsAndRoundsOnce) {
  const int N = 6, C = 5, V = 4;
  Backend& b = be();
  const std::vector<int32_t> tokens = {2, 0, 2, 2, 0, 2};  // row 1 and 3 untouched
  const std::vector<float> dout = test::random_vector((size_t)N * C, 7);
  const std::vector<bf16> before = to_bf16(test::random_vector((size_t)V * C, 8));
  const Dev<int32_t> d_tokens(b, tokens);
  const Dev<float> d_dout(b, dout);
  const Dev<bf16> d_table(b, before);
  b.embedding_backward_bf16(d_table.p(), d_dout.p(), d_tokens.p(), N, C, V);
  const std::vector<bf16> table = d_table.get();
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
  Backend& b = be();
  const std::vector<float> master0 = test::random_vector(n, 9), zeros(n, 0.0f);
  const std::vector<bf16> grad = to_bf16(test::random_vector(n, 10, 0.1f));
  std::vector<float> grad32(n);
  for (size_t i = 0; i < n; ++i) grad32[i] = bf16_to_f32(grad[i]);
  const Dev<float> d_master(b, master0), d_m(b, zeros), d_v(b, zeros);
  const Dev<float> d_master32(b, master0), d_m32(b, zeros), d_v32(b, zeros), d_grad32(b, grad32);
  const Dev<bf16> d_param(b, to_bf16(master0)), d_grad(b, grad);
  AdamWStep s;
  s.lr = 1e-2f, s.weight_decay = 0.1f, s.step = 3;
  b.adamw_update_bf16(d_master.p(), d_param.p(), d_grad.p(), d_m.p(), d_v.p(), n, s);
  b.adamw_update(d_master32.p(), d_grad32.p(), d_m32.p(), d_v32.p(), n, s);
  const std::vector<float> master = d_master.get(), master32 = d_master32.get();
  const std::vector<bf16> param = d_param.get();
  for (size_t i = 0; i < n; ++i) {
    EXPECT_EQ(master[i], master32[i]) << "the master update is the fp32 AdamW on the widened gradient";
    EXPECT_EQ(param[i], f32_to_bf16(master[i]));
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, Bf16Semantics, ::testing::Values("cpu", "ref", "cuda-emu", "cuda:0"),
                         [](const ::testing::TestParamInfo<std::string>& i) { return test::backend_id(i.param); });

}  // namespace
}  // namespace strata
