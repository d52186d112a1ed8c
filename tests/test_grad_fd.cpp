// Central finite-difference checks of every op's backward, on every backend list_backends() knows: cpu, ref, the CUDA
// sources on the CPU emulation of the device (cuda-emu) and, where there is a GPU, cuda:N (skipped without one).
// Loss L = sum(out * R) accumulated in double, R fixed random (cross entropy: R = the scalar scale its backward
// takes). For each differentiable input, all elements (or 128 random ones when there are more than 512) are
// perturbed by +-eps and (L(x+eps) - L(x-eps)) / (x+eps - (x-eps)) is compared with the analytic gradient
// (the backward called with dout = R).
//
// Criterion (fd_compare), chosen for fp32 ops with eps = 1e-2 on O(1) inputs, where the FD error (truncation
// ~eps^2 and fp32 rounding of the few outputs a perturbation touches / 2eps) is ~1e-4 relative at worst:
//   norm-wise:    ||fd - an|| / ||fd||                        <= 2e-3
//   element-wise: |fd_i - an_i| <= 1e-2 |fd_i| + 2e-3 rms(fd)  for every checked i
//   all-zero:     when rms(fd) <= 1e-5 (the output does not depend on the input, e.g. attention dq at T = 1 or
//                 an all-ignored cross-entropy batch), rms(an) <= 1e-5 is required instead.
// The meta-tests show the criterion rejects an analytic gradient scaled by 1.01 (norm error 1e-2 > 2e-3), one
// with a single element's sign flipped (element-wise), and backends with a missing term or a sign error.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <memory>
#include <numeric>
#include <set>
#include <string>
#include <ostream>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "backend/backend_registry.h"
#include "core/rng.h"
#include "tests/support/op_cases.h"
#include "tests/support/tensor_compare.h"

namespace strata::test {
namespace {

// ---- the checker ----------------------------------------------------------------------------------------

struct FdCriterion {
  double norm_tol = 2e-3;
  double elem_rtol = 1e-2;
  double elem_floor = 2e-3;  // times rms(fd)
  double zero_rms = 1e-5;
};

struct FdStats {
  std::string input;
  size_t checked = 0;
  double rms_fd = 0, rms_an = 0;
  double rel_norm = 0;    // ||fd - an|| / ||fd||
  double worst_elem = 0;  // max_i |fd_i - an_i| / (elem_rtol |fd_i| + elem_floor rms(fd)); <= 1 passes
  size_t worst_index = 0;
  bool zero = false;      // judged by the all-zero rule
  bool pass = false;
  std::string describe() const {
    if (zero) return strfmt("%-6s checked %4zu  all-zero: rms(fd)=%.1e rms(an)=%.1e  %s", input.c_str(), checked,
                         rms_fd, rms_an, pass ? "OK" : "FAIL");
    return strfmt("%-6s checked %4zu  rel_norm=%.2e  worst_elem=%.3f of limit (at %zu)  %s", input.c_str(), checked,
               rel_norm, worst_elem, worst_index, pass ? "OK" : "FAIL");
  }
};

FdStats fd_compare(const std::vector<double>& fd, const std::vector<double>& an, const std::vector<size_t>& idx,
                   const FdCriterion& c = {}) {
  FdStats s;
  s.checked = fd.size();
  double nf = 0, na = 0, nd = 0;
  for (size_t i = 0; i < fd.size(); ++i) {
    nf += fd[i] * fd[i];
    na += an[i] * an[i];
    nd += (fd[i] - an[i]) * (fd[i] - an[i]);
  }
  const double n = std::max<double>(1, (double)fd.size());
  s.rms_fd = std::sqrt(nf / n);
  s.rms_an = std::sqrt(na / n);
  if (s.rms_fd <= c.zero_rms) {
    s.zero = true;
    s.pass = s.rms_an <= c.zero_rms;
    return s;
  }
  s.rel_norm = std::sqrt(nd / nf);
  for (size_t i = 0; i < fd.size(); ++i) {
    const double r = std::fabs(fd[i] - an[i]) / (c.elem_rtol * std::fabs(fd[i]) + c.elem_floor * s.rms_fd);
    if (!(r <= s.worst_elem)) {  // also catches NaN
      s.worst_elem = r;
      s.worst_index = idx.empty() ? i : idx[i];
    }
  }
  s.pass = s.rel_norm <= c.norm_tol && s.worst_elem <= 1.0;
  return s;
}

// ---- cases ----------------------------------------------------------------------------------------------

struct GradInput {
  std::string name;
  bool differentiable = false;
  bool is_i32 = false;
  std::vector<float> f;
  std::vector<int32_t> i;
};

class GradCase {
 public:
  virtual ~GradCase() = default;
  virtual std::string id() const = 0;    // test-name friendly
  virtual std::string name() const = 0;  // with shapes
  virtual OpKind op() const = 0;
  virtual std::vector<GradInput> inputs(uint64_t seed) const = 0;
  virtual size_t out_size() const = 0;
  virtual void forward(Backend& be, const OpArgs& in, float* out) const = 0;
  // Gradient of sum(out * R) w.r.t. each differentiable input into grads[k] (zeroed; null for the others).
  virtual void backward(Backend& be, const OpArgs& in, const float* R, const std::vector<float*>& grads) const = 0;
  virtual std::vector<float> weights(uint64_t seed) const { return random_vector(out_size(), seed); }
  virtual double eps() const { return 1e-2; }
};

GradInput diff(std::string name, std::vector<float> v) { return {std::move(name), true, false, std::move(v), {}}; }
GradInput ints(std::string name, std::vector<int32_t> v) { return {std::move(name), false, true, {}, std::move(v)}; }

std::vector<int32_t> random_ints(size_t n, int lo, int hi, uint64_t seed) {
  Rng rng(seed);
  std::vector<int32_t> v(n);
  for (auto& x : v) x = lo + (int32_t)rng.below((uint64_t)(hi - lo));
  return v;
}

// Scratch device buffer for intermediates a backward needs (rstd, attention out/lse).
Buffer scratch(Backend& be, size_t n) { return be.alloc(MemoryKind::Device, n * sizeof(float), MemoryCategory::Workspace, 64); }

class EmbeddingGrad : public GradCase {
 public:
  EmbeddingGrad(int N, int C, int V) : N(N), C(C), V(V) {}
  std::string id() const override { return "embedding"; }
  std::string name() const override { return strfmt("embedding(N=%d,C=%d,V=%d)", N, C, V); }
  OpKind op() const override { return OpKind::Embedding; }
  std::vector<GradInput> inputs(uint64_t s) const override {
    return {ints("tokens", random_ints(N, 0, V, s)), diff("table", random_vector((size_t)V * C, s + 1))};
  }
  size_t out_size() const override { return (size_t)N * C; }
  void forward(Backend& be, const OpArgs& in, float* out) const override {
    be.embedding_forward(out, in.i32(0), in.f(1), N, C, V);
  }
  void backward(Backend& be, const OpArgs& in, const float* R, const std::vector<float*>& g) const override {
    be.embedding_backward(g[1], R, in.i32(0), N, C, V);
  }

 private:
  int N, C, V;
};

class RmsNormGrad : public GradCase {
 public:
  RmsNormGrad(int N, int C) : N(N), C(C) {}
  std::string id() const override { return "rmsnorm"; }
  std::string name() const override { return strfmt("rmsnorm(N=%d,C=%d)", N, C); }
  OpKind op() const override { return OpKind::RmsNorm; }
  std::vector<GradInput> inputs(uint64_t s) const override {
    auto w = random_vector(C, s + 1, 0.2f);
    for (auto& x : w) x += 1.0f;
    return {diff("x", random_vector((size_t)N * C, s)), diff("w", w)};
  }
  size_t out_size() const override { return (size_t)N * C; }
  void forward(Backend& be, const OpArgs& in, float* out) const override {
    Buffer rstd = scratch(be, N);
    be.rmsnorm_forward(out, rstd.as<float>(), in.f(0), in.f(1), N, C, kEps);
    be.synchronize();
  }
  void backward(Backend& be, const OpArgs& in, const float* R, const std::vector<float*>& g) const override {
    Buffer out = scratch(be, out_size()), rstd = scratch(be, N);
    be.rmsnorm_forward(out.as<float>(), rstd.as<float>(), in.f(0), in.f(1), N, C, kEps);
    be.rmsnorm_backward(g[0], g[1], R, in.f(0), in.f(1), rstd.as<float>(), N, C);
    be.synchronize();
  }

 private:
  static constexpr float kEps = 1e-5f;
  int N, C;
};

class LinearGrad : public GradCase {
 public:
  LinearGrad(int N, int IC, int OC) : N(N), IC(IC), OC(OC) {}
  std::string id() const override { return strfmt("linear_%dx%dx%d", N, IC, OC); }
  std::string name() const override { return strfmt("linear(N=%d,IC=%d,OC=%d)", N, IC, OC); }
  OpKind op() const override { return OpKind::Linear; }
  std::vector<GradInput> inputs(uint64_t s) const override {
    return {diff("x", random_vector((size_t)N * IC, s)), diff("w", random_vector((size_t)OC * IC, s + 1, 0.3f))};
  }
  size_t out_size() const override { return (size_t)N * OC; }
  void forward(Backend& be, const OpArgs& in, float* out) const override {
    be.linear_forward(out, in.f(0), in.f(1), N, IC, OC);
  }
  void backward(Backend& be, const OpArgs& in, const float* R, const std::vector<float*>& g) const override {
    be.linear_backward(g[0], g[1], R, in.f(0), in.f(1), N, IC, OC);
  }

 private:
  int N, IC, OC;
};

class RopeGrad : public GradCase {
 public:
  RopeGrad(int B, int T, int H, int HS, float theta, int max_pos)
      : B(B), T(T), H(H), HS(HS), theta(theta), max_pos(max_pos) {}
  std::string id() const override { return max_pos ? "rope_explicit_pos" : "rope_implicit_pos"; }
  std::string name() const override {
    return strfmt("rope(B=%d,T=%d,H=%d,HS=%d,theta=%g,%s)", B, T, H, HS, theta,
               max_pos ? strfmt("pos<%d", max_pos).c_str() : "pos=implicit");
  }
  OpKind op() const override { return OpKind::Rope; }
  std::vector<GradInput> inputs(uint64_t s) const override {
    std::vector<GradInput> v{diff("in", random_vector((size_t)B * T * H * HS, s))};
    if (max_pos) v.push_back(ints("pos", random_ints((size_t)B * T, 0, max_pos, s + 1)));
    return v;
  }
  size_t out_size() const override { return (size_t)B * T * H * HS; }
  void forward(Backend& be, const OpArgs& in, float* out) const override {
    be.rope_forward(out, in.f(0), max_pos ? in.i32(1) : nullptr, B, T, H, HS, theta);
  }
  void backward(Backend& be, const OpArgs& in, const float* R, const std::vector<float*>& g) const override {
    be.rope_backward(g[0], R, max_pos ? in.i32(1) : nullptr, B, T, H, HS, theta);
  }

 private:
  int B, T, H, HS;
  float theta;
  int max_pos;
};

class AttentionGrad : public GradCase {
 public:
  AttentionGrad(std::string tag, AttentionShape s) : tag(std::move(tag)), s(s) {}
  std::string id() const override { return "attention_" + tag; }
  std::string name() const override {
    return strfmt("attention(B=%d,T=%d,NH=%d,NKV=%d,HS=%d)", s.B, s.T, s.NH, s.NKV, s.HS);
  }
  OpKind op() const override { return OpKind::Attention; }
  std::vector<GradInput> inputs(uint64_t seed) const override {
    return {diff("q", random_vector(qn(), seed)), diff("k", random_vector(kvn(), seed + 1)),
            diff("v", random_vector(kvn(), seed + 2))};
  }
  size_t out_size() const override { return qn(); }
  void forward(Backend& be, const OpArgs& in, float* out) const override {
    Buffer lse = scratch(be, (size_t)s.B * s.NH * s.T);
    be.attention_forward(out, lse.as<float>(), in.f(0), in.f(1), in.f(2), s);
    be.synchronize();
  }
  void backward(Backend& be, const OpArgs& in, const float* R, const std::vector<float*>& g) const override {
    Buffer out = scratch(be, qn()), lse = scratch(be, (size_t)s.B * s.NH * s.T);
    be.attention_forward(out.as<float>(), lse.as<float>(), in.f(0), in.f(1), in.f(2), s);
    be.attention_backward(g[0], g[1], g[2], R, in.f(0), in.f(1), in.f(2), out.as<float>(), lse.as<float>(), s);
    be.synchronize();
  }

 private:
  size_t qn() const { return (size_t)s.B * s.T * s.NH * s.HS; }
  size_t kvn() const { return (size_t)s.B * s.T * s.NKV * s.HS; }
  std::string tag;
  AttentionShape s;
};

class SwigluGrad : public GradCase {
 public:
  explicit SwigluGrad(size_t n) : n(n) {}
  std::string id() const override { return "swiglu"; }
  std::string name() const override { return strfmt("swiglu(n=%zu)", n); }
  OpKind op() const override { return OpKind::SwiGLU; }
  std::vector<GradInput> inputs(uint64_t s) const override {
    return {diff("gate", random_vector(n, s, 3.0f)), diff("up", random_vector(n, s + 1))};
  }
  size_t out_size() const override { return n; }
  void forward(Backend& be, const OpArgs& in, float* out) const override { be.swiglu_forward(out, in.f(0), in.f(1), n); }
  void backward(Backend& be, const OpArgs& in, const float* R, const std::vector<float*>& g) const override {
    be.swiglu_backward(g[0], g[1], R, in.f(0), in.f(1), n);
  }

 private:
  size_t n;
};

class AddGrad : public GradCase {
 public:
  explicit AddGrad(size_t n) : n(n) {}
  std::string id() const override { return "add"; }
  std::string name() const override { return strfmt("add(n=%zu)", n); }
  OpKind op() const override { return OpKind::Add; }
  std::vector<GradInput> inputs(uint64_t s) const override {
    return {diff("a", random_vector(n, s)), diff("b", random_vector(n, s + 1))};
  }
  size_t out_size() const override { return n; }
  void forward(Backend& be, const OpArgs& in, float* out) const override { be.add(out, in.f(0), in.f(1), n); }
  // The gradient of a residual add passes dout through to both operands ("+=", done with add itself).
  void backward(Backend& be, const OpArgs&, const float* R, const std::vector<float*>& g) const override {
    be.add(g[0], g[0], R, n);
    be.add(g[1], g[1], R, n);
  }

 private:
  size_t n;
};

class CrossEntropyGrad : public GradCase {
 public:
  static constexpr int kIgnore = -100;
  // Every ignore_every-th row (0: none, 1: all) has the ignore index as target.
  CrossEntropyGrad(int N, int V, int ignore_every) : N(N), V(V), ignore_every(ignore_every) {}
  std::string id() const override { return ignore_every == 1 ? "cross_entropy_all_ignored" : "cross_entropy"; }
  std::string name() const override { return strfmt("cross_entropy(N=%d,V=%d,ignore_every=%d)", N, V, ignore_every); }
  OpKind op() const override { return OpKind::CrossEntropy; }
  std::vector<GradInput> inputs(uint64_t s) const override {
    auto t = random_ints(N, 0, V, s + 1);
    if (ignore_every)
      for (int n = 0; n < N; n += ignore_every) t[n] = kIgnore;
    return {diff("logits", random_vector((size_t)N * V, s, 2.0f)), ints("targets", t)};
  }
  size_t out_size() const override { return N; }
  // The backward takes one scalar: L = scale * sum of the per-row losses.
  std::vector<float> weights(uint64_t) const override { return std::vector<float>(N, scale()); }
  void forward(Backend& be, const OpArgs& in, float* out) const override {
    be.cross_entropy_forward(out, in.f(0), in.i32(1), N, V, kIgnore);
  }
  void backward(Backend& be, const OpArgs& in, const float*, const std::vector<float*>& g) const override {
    be.cross_entropy_backward(g[0], in.f(0), in.i32(1), scale(), N, V, kIgnore);
  }

 private:
  float scale() const { return 0.37f; }
  int N, V, ignore_every;
};

const std::vector<std::unique_ptr<GradCase>>& grad_cases() {
  static const auto cases = [] {
    std::vector<std::unique_ptr<GradCase>> r;
    r.emplace_back(new EmbeddingGrad(11, 9, 7));  // repeated tokens; unused rows get zero gradient
    r.emplace_back(new RmsNormGrad(4, 24));
    r.emplace_back(new LinearGrad(5, 12, 7));
    r.emplace_back(new LinearGrad(16, 48, 40));   // w has 1920 elements: random subset of 128
    r.emplace_back(new RopeGrad(2, 3, 2, 8, 10000.0f, 0));
    r.emplace_back(new RopeGrad(2, 3, 2, 16, 500000.0f, 2048));
    r.emplace_back(new AttentionGrad("gqa", {2, 5, 4, 2, 8}));
    r.emplace_back(new AttentionGrad("mha", {1, 6, 2, 2, 4}));
    r.emplace_back(new AttentionGrad("t1", {2, 1, 2, 1, 4}));  // dq, dk are exactly zero
    r.emplace_back(new SwigluGrad(64));
    r.emplace_back(new AddGrad(40));
    r.emplace_back(new CrossEntropyGrad(6, 11, 3));  // rows 0 and 3 ignored
    r.emplace_back(new CrossEntropyGrad(3, 5, 1));   // every row ignored
    return r;
  }();
  return cases;
}

// ---- runner ---------------------------------------------------------------------------------------------

struct InputCheck {
  FdStats stats;
  std::vector<double> fd, an;
  std::vector<size_t> idx;
};

uint64_t seed_of(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char ch : s) h = (h ^ ch) * 1099511628211ull;
  return h;
}

std::vector<InputCheck> check_case(const GradCase& c, Backend& be) {
  const uint64_t seed = seed_of(c.name());
  auto host = c.inputs(seed);
  const auto R = c.weights(seed + 1000);
  std::vector<Buffer> bufs;
  OpArgs in;
  for (const auto& t : host) {
    bufs.push_back(t.is_i32 ? upload_i32(be, t.i) : upload(be, t.f));
    in.ptrs.push_back(bufs.back().data());
  }
  Buffer Rd = upload(be, R), out = scratch(be, c.out_size());

  // analytic
  std::vector<Buffer> gbufs;
  std::vector<float*> g(host.size(), nullptr);
  for (size_t k = 0; k < host.size(); ++k)
    if (host[k].differentiable) {
      gbufs.push_back(upload(be, std::vector<float>(host[k].f.size(), 0.0f)));
      g[k] = gbufs.back().as<float>();
    }
  c.backward(be, in, Rd.as<float>(), g);
  be.synchronize();

  auto loss = [&] {
    c.forward(be, in, out.as<float>());
    be.synchronize();
    const auto o = download(be, out.as<float>(), c.out_size());
    double L = 0;
    for (size_t i = 0; i < o.size(); ++i) L += (double)o[i] * R[i];
    return L;
  };

  std::vector<InputCheck> res;
  for (size_t k = 0; k < host.size(); ++k) {
    if (!host[k].differentiable) continue;
    const size_t n = host[k].f.size();
    const auto an_all = download(be, g[k], n);
    InputCheck ic;
    ic.idx.resize(n);
    std::iota(ic.idx.begin(), ic.idx.end(), 0);
    if (n > 512) {  // partial Fisher-Yates: 128 distinct random elements
      Rng rng(seed + k);
      for (size_t i = 0; i < 128; ++i) std::swap(ic.idx[i], ic.idx[i + rng.below(n - i)]);
      ic.idx.resize(128);
      std::sort(ic.idx.begin(), ic.idx.end());
    }
    float* dev = static_cast<float*>(in.ptrs[k]);
    for (size_t i : ic.idx) {
      const float x0 = host[k].f[i];
      const float xp = x0 + (float)c.eps(), xm = x0 - (float)c.eps();
      be.copy(dev + i, &xp, sizeof(float));
      const double Lp = loss();
      be.copy(dev + i, &xm, sizeof(float));
      const double Lm = loss();
      be.copy(dev + i, &x0, sizeof(float));
      ic.fd.push_back((Lp - Lm) / ((double)xp - (double)xm));
      ic.an.push_back(an_all[i]);
    }
    ic.stats = fd_compare(ic.fd, ic.an, ic.idx);
    ic.stats.input = host[k].name;
    res.push_back(std::move(ic));
  }
  return res;
}

// The criterion must reject an analytic gradient scaled by 1.01 and one with a single element's sign flipped
// (the largest one, and one of median magnitude among the non-zero elements).
void expect_criterion_is_sharp(const InputCheck& ic, const std::string& what) {
  if (ic.stats.zero) return;
  auto scaled = ic.an;
  for (auto& x : scaled) x *= 1.01;
  EXPECT_FALSE(fd_compare(ic.fd, scaled, ic.idx).pass) << what << ": criterion accepts an x1.01 gradient";
  std::vector<size_t> order;
  for (size_t i = 0; i < ic.an.size(); ++i)
    if (ic.an[i] != 0) order.push_back(i);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return std::fabs(ic.an[a]) < std::fabs(ic.an[b]); });
  ASSERT_FALSE(order.empty());
  for (size_t pick : {order.back(), order[order.size() / 2]}) {
    auto flipped = ic.an;
    flipped[pick] = -flipped[pick];
    EXPECT_FALSE(fd_compare(ic.fd, flipped, ic.idx).pass)
        << what << ": criterion accepts a gradient with element " << ic.idx[pick] << " (" << ic.an[pick]
        << ") sign-flipped";
  }
}

// ---- tests: (backend, case) -----------------------------------------------------------------------------

struct Param {
  std::string backend;
  size_t case_index;
  friend void PrintTo(const Param& p, std::ostream* os) {
    *os << p.backend << " " << grad_cases()[p.case_index]->name();
  }
};

std::vector<Param> params() {
  std::vector<Param> p;
  for (const auto& b : list_backends())
    for (size_t i = 0; i < grad_cases().size(); ++i) p.push_back({b.name, i});
  return p;
}

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
  std::string s = info.param.backend + "_" + grad_cases()[info.param.case_index]->id();
  for (auto& ch : s)
    if (!std::isalnum((unsigned char)ch) && ch != '_') ch = '_';
  return s;
}

class GradFD : public ::testing::TestWithParam<Param> {};

TEST_P(GradFD, Check) {
  const std::string& bname = GetParam().backend;
  const GradCase& c = *grad_cases()[GetParam().case_index];
  for (const auto& b : list_backends())
    if (b.name == bname && !b.available) GTEST_SKIP() << bname << " unavailable: " << b.reason;
  auto be = make_backend(bname);
  if (!be->supports(c.op())) GTEST_SKIP() << bname << " does not support " << to_string(c.op());
  for (const auto& ic : check_case(c, *be)) {
    std::printf("  [%s] %-48s %s\n", bname.c_str(), c.name().c_str(), ic.stats.describe().c_str());
    EXPECT_TRUE(ic.stats.pass) << bname << " " << c.name() << " d" << ic.stats.input << ": "
                               << ic.stats.describe();
    expect_criterion_is_sharp(ic, bname + " " + c.name() + " d" + ic.stats.input);
  }
  std::fflush(stdout);
}

INSTANTIATE_TEST_SUITE_P(All, GradFD, ::testing::ValuesIn(params()), param_name);

TEST(GradFDRegistry, EveryDifferentiableOpIsChecked) {
  std::set<OpKind> kinds;
  for (const auto& c : grad_cases()) kinds.insert(c->op());
  for (OpKind k : {OpKind::Embedding, OpKind::RmsNorm, OpKind::Linear, OpKind::Rope, OpKind::Attention,
                   OpKind::SwiGLU, OpKind::Add, OpKind::CrossEntropy})
    EXPECT_TRUE(kinds.count(k)) << "no finite-difference case for " << to_string(k);
}

// ---- meta-tests: defective backwards must fail the check ------------------------------------------------

TEST(GradFDMeta, CriterionRejectsScaledAndFlippedGradients) {
  // Direct synthetic check, independent of any backend: a smooth gradient with FD-like noise passes; the
  // x1.01 and single-sign-flip versions do not.
  Rng rng(7);
  std::vector<double> an(200), fd(200);
  for (size_t i = 0; i < an.size(); ++i) {
    an[i] = rng.normal();
    fd[i] = an[i] * (1 + 1e-5 * rng.normal()) + 1e-6 * rng.normal();
  }
  EXPECT_TRUE(fd_compare(fd, an, {}).pass);
  auto scaled = an;
  for (auto& x : scaled) x *= 1.01;
  EXPECT_FALSE(fd_compare(fd, scaled, {}).pass);
  auto flipped = an;
  flipped[17] = -flipped[17];
  EXPECT_FALSE(fd_compare(fd, flipped, {}).pass);
}

class DefectiveBackend : public CpuBackend {
 public:
  enum Mode { kRmsNormMissingTerm, kAttentionMissingD, kRopeWrongDirection, kSwigluMissingTerm, kLinearScaled };
  explicit DefectiveBackend(Mode m) : mode_(m) {}
  std::string name() const override { return "defective"; }

  void rmsnorm_backward(float* dx, float* dw, const float* dout, const float* x, const float* w, const float* rstd,
                        int N, int C) override {
    if (mode_ != kRmsNormMissingTerm) return CpuBackend::rmsnorm_backward(dx, dw, dout, x, w, rstd, N, C);
    CpuBackend::rmsnorm_backward(nullptr, dw, dout, x, w, rstd, N, C);
    if (dx)
      for (size_t i = 0; i < (size_t)N * C; ++i) dx[i] += rstd[i / C] * w[i % C] * dout[i];  // no -r^3 x dot/C
  }
  void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k,
                          const float* v, const float* out, const float* lse, const AttentionShape& s) override {
    if (mode_ != kAttentionMissingD) return CpuBackend::attention_backward(dq, dk, dv, dout, q, k, v, out, lse, s);
    const std::vector<float> zeros((size_t)s.B * s.T * s.NH * s.HS, 0.0f);  // D = dout . out becomes 0
    CpuBackend::attention_backward(dq, dk, dv, dout, q, k, v, zeros.data(), lse, s);
  }
  void rope_backward(float* din, const float* dout, const int32_t* pos, int B, int T, int H, int HS,
                     float theta) override {
    if (mode_ == kRopeWrongDirection) return CpuBackend::rope_forward(din, dout, pos, B, T, H, HS, theta);
    CpuBackend::rope_backward(din, dout, pos, B, T, H, HS, theta);
  }
  void swiglu_backward(float* dgate, float* dup, const float* dout, const float* gate, const float* up,
                       size_t n) override {
    if (mode_ != kSwigluMissingTerm) return CpuBackend::swiglu_backward(dgate, dup, dout, gate, up, n);
    for (size_t i = 0; i < n; ++i) {
      const float s = 1.0f / (1.0f + std::exp(-gate[i]));
      dgate[i] += dout[i] * up[i] * s;  // missing + g s (1 - s)
      dup[i] += dout[i] * gate[i] * s;
    }
  }
  void linear_backward(float* dx, float* dw, const float* dout, const float* x, const float* w, int N, int IC,
                       int OC) override {
    CpuBackend::linear_backward(dx, dw, dout, x, w, N, IC, OC);
    if (mode_ == kLinearScaled && dw)
      for (size_t i = 0; i < (size_t)OC * IC; ++i) dw[i] *= 1.01f;
  }

 private:
  Mode mode_;
};

// Checks `case_id` on a defective backend; the input named `bad` must fail, the others must still pass.
void expect_defect_caught(DefectiveBackend::Mode mode, const std::string& case_id, const std::string& bad) {
  DefectiveBackend be(mode);
  const GradCase* c = nullptr;
  for (const auto& gc : grad_cases())
    if (gc->id() == case_id) c = gc.get();
  ASSERT_NE(c, nullptr) << case_id;
  bool seen = false;
  for (const auto& ic : check_case(*c, be)) {
    std::printf("  [defective] %-40s %s\n", c->name().c_str(), ic.stats.describe().c_str());
    if (ic.stats.input == bad) {
      seen = true;
      EXPECT_FALSE(ic.stats.pass) << case_id << " d" << bad << ": defect not detected: " << ic.stats.describe();
    }
  }
  EXPECT_TRUE(seen) << case_id << " has no input " << bad;
}

TEST(GradFDMeta, CatchesRmsNormMissingTerm) { expect_defect_caught(DefectiveBackend::kRmsNormMissingTerm, "rmsnorm", "x"); }
TEST(GradFDMeta, CatchesAttentionMissingD) {
  expect_defect_caught(DefectiveBackend::kAttentionMissingD, "attention_gqa", "q");
  expect_defect_caught(DefectiveBackend::kAttentionMissingD, "attention_gqa", "k");
}
TEST(GradFDMeta, CatchesRopeSignError) {
  expect_defect_caught(DefectiveBackend::kRopeWrongDirection, "rope_implicit_pos", "in");
}
TEST(GradFDMeta, CatchesSwigluMissingTerm) { expect_defect_caught(DefectiveBackend::kSwigluMissingTerm, "swiglu", "gate"); }
TEST(GradFDMeta, CatchesOnePercentScaledWeightGradient) {
  expect_defect_caught(DefectiveBackend::kLinearScaled, "linear_5x12x7", "w");
  expect_defect_caught(DefectiveBackend::kLinearScaled, "linear_16x48x40", "w");  // on the sampled subset
}

}  // namespace
}  // namespace strata::test
