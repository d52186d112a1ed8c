// Op parity (ggml test-backend-ops style): every case in tests/support/op_cases.cpp runs on the double-precision
// reference backend "ref" and on every other backend list_backends() knows, plus the emulated CUDA device under its
// other thread orders ("cuda-emu:reverse", "cuda-emu:shuffle"), whose results must also be bitwise those of the
// forward order ("cuda-emu"): a kernel whose result depends on the order its threads run in between barriers has a
// race. One test per (backend, op kind); an unavailable backend or an op it does not support is a GTEST_SKIP with
// the reason, never a pass.
// Meta-tests feed deliberately broken backends to the harness to show each check can fail.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>
#include <cstring>
#include <map>
#include <set>
#include <ostream>

#include "backend/cpu/cpu_backend.h"
#include "backend/backend_registry.h"
#include "tests/support/backends.h"
#include "tests/support/op_cases.h"

namespace strata::test {
namespace {

// ---- per-backend summary (printed once at the end of the process) ----------------------------------------

struct Tally {
  int ran = 0, skipped = 0;
  std::set<std::string> ran_ops, skipped_ops;
  std::set<std::string> reasons;
};

std::map<std::string, Tally>& tallies() {
  static std::map<std::string, Tally> t;
  return t;
}

class SummaryEnv : public ::testing::Environment {
 public:
  void TearDown() override {
    for (const auto& [name, t] : tallies()) {
      std::string ran, skipped;
      for (const auto& o : t.ran_ops) ran += (ran.empty() ? "" : ",") + o;
      for (const auto& o : t.skipped_ops) skipped += (skipped.empty() ? "" : ",") + o;
      std::printf("[backend %s] ran %d cases (%s), skipped %d (%s)\n", name.c_str(), t.ran,
                  ran.empty() ? "-" : ran.c_str(), t.skipped, skipped.empty() ? "-" : skipped.c_str());
      for (const auto& r : t.reasons) std::printf("[backend %s]   skipped because: %s\n", name.c_str(), r.c_str());
    }
    std::fflush(stdout);
  }
};
[[maybe_unused]] ::testing::Environment* const kSummaryEnv = ::testing::AddGlobalTestEnvironment(new SummaryEnv);

// ---- parametrisation: (backend under test, op kind) -----------------------------------------------------

struct Param {
  std::string backend;
  OpKind op;
  friend void PrintTo(const Param& p, std::ostream* os) { *os << p.backend << " " << to_string(p.op); }
};

std::vector<Param> params() {
  std::set<OpKind> kinds;
  for (const auto& c : op_cases()) kinds.insert(c->op());
  std::vector<Param> p;
  std::vector<std::string> names;
  for (const auto& b : list_backends()) {
    if (b.name == "ref") continue;  // the reference itself
    names.push_back(b.name);
    if (b.name == "cuda-emu")
      for (const char* order : {"reverse", "shuffle"}) names.push_back("cuda-emu:" + std::string(order));
  }
  for (const auto& name : names)
    for (OpKind k : kinds) p.push_back({name, k});
  return p;
}

// Every tensor after each case (by name) on cuda-emu in the forward thread order.
std::map<std::string, std::vector<HostTensor>>& forward_results() {
  static std::map<std::string, std::vector<HostTensor>> r;
  return r;
}

// Which non-input tensors of two runs of one case differ in any bit (NaN payloads included): "" when none.
std::string bitwise_differences(const std::vector<HostTensor>& a, const std::vector<HostTensor>& b) {
  if (a.size() != b.size()) return "different tensor counts";
  std::string out;
  for (size_t k = 0; k < a.size(); ++k) {
    if (a[k].role == TensorRole::Input) continue;
    const std::vector<uint8_t> ia = a[k].image(), ib = b[k].image();
    if (ia == ib) continue;
    size_t first = 0, count = 0;
    double worst = 0;
    for (size_t i = 0; i < a[k].count(); ++i) {
      const bool same = a[k].is_i32 ? a[k].i[i] == b[k].i[i]
                                    : std::memcmp(&a[k].f[i], &b[k].f[i], sizeof(float)) == 0;
      if (same) continue;
      if (count++ == 0) first = i;
      if (!a[k].is_i32) worst = std::max(worst, std::fabs((double)a[k].f[i] - b[k].f[i]));
    }
    out += strfmt("%s%s: %zu element(s) differ, first at %zu, max |diff| %.3g", out.empty() ? "" : "; ",
                  a[k].name.c_str(), count, first, worst);
  }
  return out;
}

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
  std::string s = info.param.backend + "_" + to_string(info.param.op);
  for (auto& ch : s)
    if (!std::isalnum((unsigned char)ch) && ch != '_') ch = '_';
  return s;
}

class BackendOps : public ::testing::TestWithParam<Param> {};

TEST_P(BackendOps, Parity) {
  const std::string& bname = GetParam().backend;
  const OpKind op = GetParam().op;
  std::vector<const OpCase*> cases;
  for (const auto& c : op_cases())
    if (c->op() == op) cases.push_back(c.get());
  Tally& tally = tallies()[bname];

  std::string why, unavailable;
  if (!test::backend_available(bname, &unavailable)) why = "backend unavailable: " + unavailable;
  auto ref = make_backend("ref");
  // A thread-order variant of the emulated device: first the forward order's results, to compare bit for bit
  // (kept from the cuda-emu test when it ran in this process). The order is the emulation's global setting,
  // applied when a cuda-emu backend is made: one at a time.
  const bool order_variant = bname.rfind("cuda-emu:", 0) == 0;
  if (why.empty() && order_variant) {
    std::unique_ptr<Backend> fwd;
    for (const OpCase* c : cases) {
      if (forward_results().count(c->name())) continue;
      if (!fwd) fwd = make_backend("cuda-emu");
      if (!fwd->supports(op)) break;
      forward_results()[c->name()] = run_case_outputs(*c, *fwd, *ref, nullptr);
    }
  }
  std::unique_ptr<Backend> be;
  if (why.empty()) {
    be = make_backend(bname);
    if (!be->supports(op)) why = std::string("op not supported: ") + to_string(op);
  }
  if (!why.empty()) {
    tally.skipped += (int)cases.size();
    tally.skipped_ops.insert(to_string(op));
    tally.reasons.insert(why);
    std::printf("  [%s] %-10s SKIPPED %zu case(s): %s\n", bname.c_str(), to_string(op), cases.size(), why.c_str());
    GTEST_SKIP() << bname << " " << to_string(op) << ": " << why;
  }

  for (const OpCase* c : cases) {
    const CaseResult r = run_case(*c, *be, *ref);
    std::printf("  [%s] %-72s %s  %s\n", bname.c_str(), c->name().c_str(), r.pass ? "OK  " : "FAIL",
                r.describe().c_str());
    EXPECT_TRUE(r.pass) << c->name() << " on " << bname << ":\n" << r.describe();
    if (bname == "cuda-emu" && r.pass) forward_results()[c->name()] = r.after;
    if (order_variant && r.pass) {
      const std::vector<HostTensor>& forward = forward_results()[c->name()];
      ASSERT_FALSE(forward.empty()) << c->name() << " failed on cuda-emu (forward order)";
      const std::string diff = bitwise_differences(r.after, forward);
      if (!diff.empty()) std::printf("  [%s] %-72s differs from the forward order: %s\n", bname.c_str(),
                                     c->name().c_str(), diff.c_str());
      EXPECT_EQ(diff, "") << c->name() << " on " << bname << " is not bitwise the forward order's result";
    }
    ++tally.ran;
    tally.ran_ops.insert(to_string(op));
  }
  std::fflush(stdout);
}

INSTANTIATE_TEST_SUITE_P(All, BackendOps, ::testing::ValuesIn(params()), param_name);

// ---- registry sanity ------------------------------------------------------------------------------------

TEST(BackendOpsRegistry, EveryOpKindHasCasesAndNamesAreUnique) {
  std::set<std::string> names;
  std::set<OpKind> kinds;
  for (const auto& c : op_cases()) {
    EXPECT_TRUE(names.insert(c->name()).second) << "duplicate case name " << c->name();
    kinds.insert(c->op());
    EXPECT_GE(c->tolerance(), 0.0) << c->name();
  }
  for (int k = 0; k < kNumOpKinds; ++k)
    EXPECT_TRUE(kinds.count((OpKind)k)) << "no parity case for op " << to_string((OpKind)k);
}

// ---- meta-tests: the harness must catch each kind of defect ---------------------------------------------

// A CPU backend with one injected defect per mode.
class BrokenBackend : public CpuBackend {
 public:
  enum Mode { kWritePastEnd, kWriteBeforeStart, kOverwriteAccum, kSkipLastElement, kSmallError, kModifyInput,
              kThrow };
  explicit BrokenBackend(Mode m) : mode_(m) {}
  std::string name() const override { return "broken"; }

  void add(float* out, const float* a, const float* b, size_t n) override {
    CpuBackend::add(out, a, b, n);
    if (mode_ == kWritePastEnd) out[n] = 0.0f;           // lands in the guard region
    if (mode_ == kWriteBeforeStart) out[-1] = 1.0f;
  }
  void linear_backward(float* dx, float* dw, const float* dout, const float* x, const float* w, int N, int IC,
                       int OC) override {
    if (mode_ == kOverwriteAccum && dx) fill_zero(dx, sizeof(float) * N * IC);  // "=" instead of "+="
    CpuBackend::linear_backward(dx, dw, dout, x, w, N, IC, OC);
  }
  void swiglu_forward(float* out, const float* gate, const float* up, size_t n) override {
    CpuBackend::swiglu_forward(out, gate, up, mode_ == kSkipLastElement ? n - 1 : n);
  }
  void rmsnorm_forward(float* out, float* rstd, const float* x, const float* w, int N, int C, float eps) override {
    CpuBackend::rmsnorm_forward(out, rstd, x, w, N, C, eps);
    if (mode_ == kSmallError) out[0] *= 1.01f;  // one element 1% off
  }
  void cross_entropy_forward(float* losses, const float* logits, const int32_t* targets, int N, int V,
                             int ignore_index) override {
    CpuBackend::cross_entropy_forward(losses, logits, targets, N, V, ignore_index);
    if (mode_ == kModifyInput) const_cast<float*>(logits)[V + 1] += 1.0f;
  }
  void attention_forward(float* out, float* lse, const float* q, const float* k, const float* v,
                         const AttentionShape& s) override {
    if (mode_ == kThrow) throw std::runtime_error("injected failure");
    CpuBackend::attention_forward(out, lse, q, k, v, s);
  }

 private:
  Mode mode_;
};

const OpCase& find_case(const std::string& prefix) {
  for (const auto& c : op_cases())
    if (c->name().rfind(prefix, 0) == 0) return *c;
  throw std::runtime_error("no op case named " + prefix + "...");
}

// Runs the first case whose name starts with `prefix` on a broken backend; returns all problems as one string.
std::string problems_with(BrokenBackend::Mode mode, const std::string& prefix) {
  BrokenBackend broken(mode);
  auto ref = make_backend("ref");
  const CaseResult r = run_case(find_case(prefix), broken, *ref);
  EXPECT_FALSE(r.pass) << prefix << ": the injected defect was not detected";
  std::string all;
  for (const auto& p : r.problems) all += p + "\n";
  return all;
}

TEST(BackendOpsHarness, CatchesWritePastEnd) {
  EXPECT_NE(problems_with(BrokenBackend::kWritePastEnd, "add(n=1037)").find("out (after): 4 guard byte"),
            std::string::npos);
}
TEST(BackendOpsHarness, CatchesWriteBeforeStart) {
  EXPECT_NE(problems_with(BrokenBackend::kWriteBeforeStart, "add(n=1037)").find("out (before)"), std::string::npos);
}
TEST(BackendOpsHarness, CatchesOverwrittenAccumulator) {
  EXPECT_NE(problems_with(BrokenBackend::kOverwriteAccum, "linear_bwd").find("dx: rel_l2"), std::string::npos);
}
TEST(BackendOpsHarness, CatchesUnwrittenOutput) {
  EXPECT_NE(problems_with(BrokenBackend::kSkipLastElement, "swiglu_fwd(n=1001)").find("non-finite"),
            std::string::npos);
}
TEST(BackendOpsHarness, CatchesSmallNumericalError) {
  EXPECT_NE(problems_with(BrokenBackend::kSmallError, "rmsnorm_fwd").find("exceeds tolerance"), std::string::npos);
}
TEST(BackendOpsHarness, CatchesModifiedInput) {
  EXPECT_NE(problems_with(BrokenBackend::kModifyInput, "cross_entropy_fwd").find("input was modified"),
            std::string::npos);
}
TEST(BackendOpsHarness, ReportsExceptionsAsFailures) {
  EXPECT_NE(problems_with(BrokenBackend::kThrow, "attention_fwd").find("injected failure"), std::string::npos);
}
TEST(BackendOpsHarness, CpuPassesAgainstItselfExactly) {  // the harness itself adds no error
  auto a = make_backend("cpu"), b = make_backend("cpu");
  for (const auto& c : op_cases()) {
    const CaseResult r = run_case(*c, *a, *b);
    EXPECT_TRUE(r.pass) << c->name() << r.describe();
    EXPECT_EQ(r.worst_rel_l2(), 0.0) << c->name() << " is not deterministic: " << r.describe();
  }
}

}  // namespace
}  // namespace strata::test
