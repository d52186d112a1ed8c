// The op-parity harness (run_case: guard bytes, input immutability, finiteness, normalised error) and the
// registry of op cases: one small class per op variant, one line per shape in op_cases().
#include "tests/support/op_cases.h"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <exception>

#include "backend/cpu/cpu_onednn_gemm.h"
#include "core/rng.h"
#include "core/dtype_convert.h"

namespace strata::test {

// ---- TensorSet ------------------------------------------------------------------------------------------

int TensorSet::push(HostTensor t) {
  t_.push_back(std::move(t));
  return (int)t_.size() - 1;
}
int TensorSet::input(std::string name, std::vector<float> v) {
  return push({std::move(name), TensorRole::Input, false, std::move(v), {}});
}
int TensorSet::input_i32(std::string name, std::vector<int32_t> v) {
  return push({std::move(name), TensorRole::Input, true, {}, std::move(v)});
}
int TensorSet::output(std::string name, size_t n) {
  float nan_pattern;
  std::memcpy(&nan_pattern, &kGuardWord, 4);
  return push({std::move(name), TensorRole::Output, false, std::vector<float>(n, nan_pattern), {}});
}
int TensorSet::accum(std::string name, std::vector<float> init) {
  return push({std::move(name), TensorRole::Accum, false, std::move(init), {}});
}
int TensorSet::inout(std::string name, std::vector<float> v) {
  return push({std::move(name), TensorRole::InOut, false, std::move(v), {}});
}

int TensorSet::input_bf16(std::string name, std::vector<float> v) {
  for (float& x : v) x = bf16_to_f32(f32_to_bf16(x));
  HostTensor t{std::move(name), TensorRole::Input, false, std::move(v), {}};
  t.is_bf16 = true;
  return push(std::move(t));
}
int TensorSet::output_bf16(std::string name, size_t n) {
  HostTensor t{std::move(name), TensorRole::Output, false, std::vector<float>(n, bf16_to_f32(0x7FA5)), {}};
  t.is_bf16 = true;
  return push(std::move(t));
}
int TensorSet::accum_bf16(std::string name, std::vector<float> init) {
  for (float& x : init) x = bf16_to_f32(f32_to_bf16(x));
  HostTensor t{std::move(name), TensorRole::Accum, false, std::move(init), {}};
  t.is_bf16 = true;
  return push(std::move(t));
}
int TensorSet::inout_bf16(std::string name, std::vector<float> v) {
  for (float& x : v) x = bf16_to_f32(f32_to_bf16(x));
  HostTensor t{std::move(name), TensorRole::InOut, false, std::move(v), {}};
  t.is_bf16 = true;
  return push(std::move(t));
}

std::vector<uint8_t> HostTensor::image() const {
  std::vector<uint8_t> img(bytes());
  if (is_bf16) {
    for (size_t k = 0; k < f.size(); ++k) {
      const uint16_t h = f32_to_bf16(f[k]);
      std::memcpy(img.data() + 2 * k, &h, 2);
    }
  } else if (!img.empty()) {
    std::memcpy(img.data(), is_i32 ? (const void*)i.data() : (const void*)f.data(), img.size());
  }
  return img;
}

void HostTensor::load_image(const uint8_t* bytes) {
  if (is_bf16) {
    for (size_t k = 0; k < f.size(); ++k) {
      uint16_t h;
      std::memcpy(&h, bytes + 2 * k, 2);
      f[k] = bf16_to_f32(h);
    }
  } else if (count()) {
    std::memcpy(is_i32 ? (void*)i.data() : (void*)f.data(), bytes, count() * 4);
  }
}

// ---- harness --------------------------------------------------------------------------------------------

static uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char ch : s) h = (h ^ ch) * 1099511628211ull;
  return h;
}

// Host image of one guarded device allocation: [guard | data | guard].
static std::vector<uint8_t> guarded_image(const HostTensor& t) {
  std::vector<uint8_t> img(2 * kGuardBytes + t.bytes());
  uint8_t word[4];
  std::memcpy(word, &kGuardWord, 4);
  for (size_t o = 0; o < img.size(); ++o) img[o] = word[o % 4];  // every byte, also when the size is not 4k
  const std::vector<uint8_t> data = t.image();
  if (!data.empty()) std::memcpy(img.data() + kGuardBytes, data.data(), data.size());
  return img;
}

// Reports the first and last guard byte that changed, if any.
static void check_guard(const std::vector<uint8_t>& img, size_t begin, size_t end, const std::string& what,
                        std::vector<std::string>& problems) {
  uint8_t word[4];
  std::memcpy(word, &kGuardWord, 4);
  size_t first = end, last = begin, count = 0;
  for (size_t o = begin; o < end; ++o)
    if (img[o] != word[o % 4]) {  // the pattern was laid from offset 0
      first = std::min(first, o);
      last = o;
      ++count;
    }
  if (count) problems.push_back(strfmt("%s: %zu guard byte(s) overwritten (offsets %zd..%zd from the data start)",
                                    what.c_str(), count, (ptrdiff_t)first - (ptrdiff_t)kGuardBytes,
                                    (ptrdiff_t)last - (ptrdiff_t)kGuardBytes));
}

// Runs `c` on `be` with guarded copies of `ts`; returns the data part of every tensor after the op (empty on
// failure to run). Guard, input and finiteness problems are appended to `problems`.
static std::vector<HostTensor> run_guarded(const OpCase& c, const TensorSet& ts, Backend& be,
                                           std::vector<std::string>& problems) {
  const auto& tensors = ts.tensors();
  std::vector<Buffer> bufs;
  OpArgs args;
  std::vector<HostTensor> after = tensors;
  try {
    for (const auto& t : tensors) {
      const auto img = guarded_image(t);
      bufs.push_back(be.alloc(MemoryKind::Device, img.size(), MemoryCategory::Other, 256));
      be.copy(bufs.back().data(), img.data(), img.size());
      args.ptrs.push_back(bufs.back().as<uint8_t>() + kGuardBytes);
    }
    c.run(be, args);
    be.synchronize();
    for (size_t k = 0; k < tensors.size(); ++k) {
      const HostTensor& t = tensors[k];
      std::vector<uint8_t> img(2 * kGuardBytes + t.bytes());
      be.copy(img.data(), bufs[k].data(), img.size());
      const std::string what = be.name() + " " + t.name;
      check_guard(img, 0, kGuardBytes, what + " (before)", problems);
      check_guard(img, kGuardBytes + t.bytes(), img.size(), what + " (after)", problems);
      after[k].load_image(img.data() + kGuardBytes);
      if (t.role == TensorRole::Input) {
        if (t.bytes() && std::memcmp(img.data() + kGuardBytes, t.image().data(), t.bytes()) != 0)
          problems.push_back(what + ": input was modified by the op");
        continue;
      }
      size_t bad = 0, first_bad = 0;
      for (size_t i = 0; i < after[k].f.size(); ++i)
        if (!std::isfinite(after[k].f[i]) && bad++ == 0) first_bad = i;
      if (bad)
        problems.push_back(strfmt("%s: %zu non-finite element(s), first at %zu (unwritten outputs keep the NaN fill)",
                               what.c_str(), bad, first_bad));
    }
  } catch (const std::exception& e) {
    problems.push_back(be.name() + ": " + c.name() + " threw: " + e.what());
    return {};
  }
  return after;
}

CaseResult run_case(const OpCase& c, Backend& be, Backend& ref) {
  CaseResult res;
  TensorSet ts;
  try {
    c.build(ts, ref, fnv1a(c.name()));
  } catch (const std::exception& e) {
    res.pass = false;
    res.problems.push_back(c.name() + ": building inputs threw: " + e.what());
    return res;
  }
  const auto want = run_guarded(c, ts, ref, res.problems);
  const auto got = run_guarded(c, ts, be, res.problems);
  res.after = got;
  if (!want.empty() && !got.empty()) {
    const auto& tensors = ts.tensors();
    for (size_t k = 0; k < tensors.size(); ++k) {
      const HostTensor& t = tensors[k];
      if (t.role == TensorRole::Input) continue;
      std::vector<float> a = got[k].f, r = want[k].f;
      if (t.role == TensorRole::Accum)  // compare what was added, so "overwrote instead of +=" shows
        for (size_t i = 0; i < a.size(); ++i) {
          a[i] -= t.f[i];
          r[i] -= t.f[i];
        }
      OutputResult o{t.name, compare(a.data(), r.data(), a.size()),
                     t.is_bf16 ? c.bf16_tolerance() : c.tolerance_for(be.name())};
      if (t.role == TensorRole::Accum) {
        // Normalise by max(||ref delta||, ||init||): init has about the gradient's typical scale, so an exactly
        // zero reference gradient (attention dq/dk at T=1) does not turn fp32 rounding noise into an infinite
        // relative error, while "overwrote instead of +=" still shows as an error of order 1.
        double num = 0, den = 0, den_init = 0;
        for (size_t i = 0; i < a.size(); ++i) {
          num += ((double)a[i] - r[i]) * ((double)a[i] - r[i]);
          den += (double)r[i] * r[i];
          den_init += (double)t.f[i] * t.f[i];
        }
        o.err.rel_l2 = num == 0 ? 0 : std::sqrt(num) / std::max(std::sqrt(std::max(den, den_init)), 1e-30);
      }
      // tolerance 0 means bitwise-exact ops (copies, zero fill)
      const bool ok = o.err.finite && (o.tol == 0 ? o.err.max_abs == 0 : o.err.rel_l2 <= o.tol);
      if (!ok)
        res.problems.push_back(strfmt("%s %s: %s exceeds tolerance %.3g", be.name().c_str(), t.name.c_str(),
                                   o.err.describe().c_str(), o.tol));
      res.outputs.push_back(o);
    }
  }
  res.pass = res.problems.empty();
  return res;
}

std::vector<HostTensor> run_case_outputs(const OpCase& c, Backend& be, Backend& host_ref,
                                         std::vector<std::string>* problems) {
  TensorSet ts;
  std::vector<std::string> found;
  std::vector<HostTensor> out;
  try {
    c.build(ts, host_ref, fnv1a(c.name()));
    out = run_guarded(c, ts, be, found);
  } catch (const std::exception& e) {
    found.push_back(c.name() + ": building inputs threw: " + e.what());
  }
  if (!found.empty()) out.clear();
  if (problems) problems->insert(problems->end(), found.begin(), found.end());
  return out;
}

double CaseResult::worst_rel_l2() const {
  double w = 0;
  for (const auto& o : outputs) w = std::isnan(o.err.rel_l2) || o.err.rel_l2 > w ? o.err.rel_l2 : w;
  return w;
}

std::string CaseResult::describe() const {
  std::string s;
  for (const auto& o : outputs) s += (s.empty() ? "" : " | ") + o.name + " " + strfmt("rel_l2=%.2e", o.err.rel_l2);
  for (const auto& p : problems) s += "\n      PROBLEM: " + p;
  return s;
}

// ---- seeded inputs --------------------------------------------------------------------------------------

static std::vector<int32_t> random_ints(size_t n, int lo, int hi, uint64_t seed) {  // uniform in [lo, hi)
  Rng rng(seed);
  std::vector<int32_t> v(n);
  for (auto& x : v) x = lo + (int32_t)rng.below((uint64_t)(hi - lo));
  return v;
}

static std::vector<float> around_one(size_t n, uint64_t seed) {  // norm weights: 1 + 0.2 N(0,1)
  auto v = random_vector(n, seed, 0.2f);
  for (auto& x : v) x += 1.0f;
  return v;
}

static size_t sz(std::initializer_list<int> dims) {
  size_t n = 1;
  for (int d : dims) n *= (size_t)d;
  return n;
}

// ---- embedding ------------------------------------------------------------------------------------------

class EmbeddingFwd : public OpCase {
 public:
  EmbeddingFwd(int N, int C, int V) : N(N), C(C), V(V) {}
  OpKind op() const override { return OpKind::Embedding; }
  std::string name() const override { return strfmt("embedding_fwd(N=%d,C=%d,V=%d)", N, C, V); }
  void build(TensorSet& ts, Backend&, uint64_t s) const override {
    ts.input_i32("tokens", random_ints(N, 0, V, s));
    ts.input("table", random_vector(sz({V, C}), s + 1));
    ts.output("out", sz({N, C}));
  }
  void run(Backend& be, const OpArgs& a) const override { be.embedding_forward(a.f(2), a.i32(0), a.f(1), N, C, V); }
  double tolerance() const override { return 0; }  // a gather: bit-exact

 private:
  int N, C, V;
};

class EmbeddingBwd : public OpCase {
 public:
  EmbeddingBwd(int N, int C, int V) : N(N), C(C), V(V) {}
  OpKind op() const override { return OpKind::Embedding; }
  std::string name() const override { return strfmt("embedding_bwd(N=%d,C=%d,V=%d)", N, C, V); }
  void build(TensorSet& ts, Backend&, uint64_t s) const override {
    ts.input_i32("tokens", random_ints(N, 0, V, s));  // V < N: repeated tokens accumulate
    ts.input("dout", random_vector(sz({N, C}), s + 1));
    ts.accum("dtable", random_vector(sz({V, C}), s + 2));
  }
  void run(Backend& be, const OpArgs& a) const override {
    be.embedding_backward(a.f(2), a.f(1), a.i32(0), N, C, V);
  }
  double tolerance() const override { return 1e-6; }  // fp32 sums of a few terms; order may differ (atomics)

 private:
  int N, C, V;
};

// ---- rmsnorm --------------------------------------------------------------------------------------------

class RmsNormFwd : public OpCase {
 public:
  RmsNormFwd(int N, int C, float eps) : N(N), C(C), eps(eps) {}
  OpKind op() const override { return OpKind::RmsNorm; }
  std::string name() const override { return strfmt("rmsnorm_fwd(N=%d,C=%d,eps=%g)", N, C, eps); }
  void build(TensorSet& ts, Backend&, uint64_t s) const override {
    ts.input("x", random_vector(sz({N, C}), s, 2.0f));
    ts.input("w", around_one(C, s + 1));
    ts.output("out", sz({N, C}));
    ts.output("rstd", N);
  }
  void run(Backend& be, const OpArgs& a) const override {
    be.rmsnorm_forward(a.f(2), a.f(3), a.f(0), a.f(1), N, C, eps);
  }
  double tolerance() const override { return 1e-5; }

 private:
  int N, C;
  float eps;
};

class RmsNormBwd : public OpCase {
 public:
  RmsNormBwd(int N, int C, bool with_dx, bool with_dw) : N(N), C(C), with_dx(with_dx), with_dw(with_dw) {}
  OpKind op() const override { return OpKind::RmsNorm; }
  std::string name() const override {
    return strfmt("rmsnorm_bwd(N=%d,C=%d%s%s)", N, C, with_dx ? ",dx" : "", with_dw ? ",dw" : "");
  }
  void build(TensorSet& ts, Backend& ref, uint64_t s) const override {
    auto x = random_vector(sz({N, C}), s, 2.0f);
    auto w = around_one(C, s + 1);
    std::vector<float> out(x.size()), rstd(N);
    ref.rmsnorm_forward(out.data(), rstd.data(), x.data(), w.data(), N, C, 1e-5f);
    ts.input("x", x);
    ts.input("w", w);
    ts.input("dout", random_vector(sz({N, C}), s + 2));
    ts.input("rstd", rstd);
    if (with_dx) ts.accum("dx", random_vector(sz({N, C}), s + 3, 0.5f));
    if (with_dw) ts.accum("dw", random_vector(C, s + 4, 2.0f));
  }
  void run(Backend& be, const OpArgs& a) const override {
    int k = 4;
    float* dx = with_dx ? a.f(k++) : nullptr;
    float* dw = with_dw ? a.f(k++) : nullptr;
    be.rmsnorm_backward(dx, dw, a.f(2), a.f(0), a.f(1), a.f(3), N, C);
  }
  double tolerance() const override { return 1e-5; }

 private:
  int N, C;
  bool with_dx, with_dw;
};

// ---- linear ---------------------------------------------------------------------------------------------

class LinearFwd : public OpCase {
 public:
  LinearFwd(int N, int IC, int OC) : N(N), IC(IC), OC(OC) {}
  OpKind op() const override { return OpKind::Linear; }
  std::string name() const override { return strfmt("linear_fwd(N=%d,IC=%d,OC=%d)", N, IC, OC); }
  void build(TensorSet& ts, Backend&, uint64_t s) const override {
    ts.input("x", random_vector(sz({N, IC}), s));
    ts.input("w", random_vector(sz({OC, IC}), s + 1, 0.1f));
    ts.output("out", sz({N, OC}));
  }
  void run(Backend& be, const OpArgs& a) const override { be.linear_forward(a.f(2), a.f(0), a.f(1), N, IC, OC); }
  double tolerance() const override { return 1e-5; }  // fp32 dot products of length IC <= ~300 vs double

 private:
  int N, IC, OC;
};

class LinearBwd : public OpCase {
 public:
  LinearBwd(int N, int IC, int OC, bool with_dx, bool with_dw)
      : N(N), IC(IC), OC(OC), with_dx(with_dx), with_dw(with_dw) {}
  OpKind op() const override { return OpKind::Linear; }
  std::string name() const override {
    return strfmt("linear_bwd(N=%d,IC=%d,OC=%d%s%s)", N, IC, OC, with_dx ? ",dx" : "", with_dw ? ",dw" : "");
  }
  void build(TensorSet& ts, Backend&, uint64_t s) const override {
    ts.input("x", random_vector(sz({N, IC}), s));
    ts.input("w", random_vector(sz({OC, IC}), s + 1, 0.1f));
    ts.input("dout", random_vector(sz({N, OC}), s + 2));
    if (with_dx) ts.accum("dx", random_vector(sz({N, IC}), s + 3));
    if (with_dw) ts.accum("dw", random_vector(sz({OC, IC}), s + 4, 2.0f));
  }
  void run(Backend& be, const OpArgs& a) const override {
    int k = 3;
    float* dx = with_dx ? a.f(k++) : nullptr;
    float* dw = with_dw ? a.f(k++) : nullptr;
    be.linear_backward(dx, dw, a.f(2), a.f(0), a.f(1), N, IC, OC);
  }
  double tolerance() const override { return 1e-5; }

 private:
  int N, IC, OC;
  bool with_dx, with_dw;
};

// ---- rope -----------------------------------------------------------------------------------------------

// One class for both directions: the backward is the inverse rotation with the same signature.
class RopeCase : public OpCase {
 public:
  // max_pos == 0: implicit positions 0..T-1; else explicit positions uniform in [0, max_pos).
  RopeCase(bool backward, int B, int T, int H, int HS, float theta, int max_pos, bool in_place)
      : bwd(backward), B(B), T(T), H(H), HS(HS), theta(theta), max_pos(max_pos), in_place(in_place) {}
  OpKind op() const override { return OpKind::Rope; }
  std::string name() const override {
    return strfmt("rope_%s(B=%d,T=%d,H=%d,HS=%d,theta=%g,%s%s)", bwd ? "bwd" : "fwd", B, T, H, HS, theta,
               max_pos ? strfmt("pos<%d", max_pos).c_str() : "pos=implicit", in_place ? ",in_place" : "");
  }
  void build(TensorSet& ts, Backend&, uint64_t s) const override {
    auto x = random_vector(sz({B, T, H, HS}), s);
    if (in_place) ts.inout("x", x);
    else ts.input("in", x);
    if (max_pos) ts.input_i32("pos", random_ints(sz({B, T}), 0, max_pos, s + 1));
    if (!in_place) ts.output("out", x.size());
  }
  void run(Backend& be, const OpArgs& a) const override {
    const int32_t* pos = max_pos ? a.i32(1) : nullptr;
    const float* in = a.f(0);
    float* out = in_place ? a.f(0) : a.f(max_pos ? 2 : 1);
    if (bwd) be.rope_backward(out, in, pos, B, T, H, HS, theta);
    else be.rope_forward(out, in, pos, B, T, H, HS, theta);
  }
  // fp32 angles (as HF computes them) carry an absolute error ~ pos * 2^-24 rad; the reference forms the
  // angle in double. Positions < 64: 1e-5. Positions up to P: 1e-5 + P * 2^-24 (about 1.3e-4 at P = 2048).
  double tolerance() const override { return 1e-5 + max_pos * 0x1p-24; }

 private:
  bool bwd;
  int B, T, H, HS;
  float theta;
  int max_pos;
  bool in_place;
};

// ---- attention ------------------------------------------------------------------------------------------

static std::string shape_str(const AttentionShape& s) {
  return strfmt("B=%d,T=%d,NH=%d,NKV=%d,HS=%d%s", s.B, s.T, s.NH, s.NKV, s.HS, s.bf16_inputs ? ",bf16" : "");
}

// The CUDA tensor-core attention, and the CPU's where it runs on bf16 units (OneDnnGemm::native), also round the
// probabilities, dO and dS to bf16 as GEMM operands (relative error ~2^-9 per term): bf16-input cases allow 1.5e-2
// there; elsewhere (ref, and cpu without bf16 units) only q, k, v are rounded and results agree to fp32 precision.
static double attention_tolerance(const AttentionShape& s, const std::string& backend, double fp32_tol) {
  const bool bf16_operands = backend.rfind("cuda", 0) == 0 || (backend == "cpu" && OneDnnGemm::native());
  return s.bf16_inputs && bf16_operands ? 1.5e-2 : fp32_tol;
}
static size_t q_size(const AttentionShape& s) { return sz({s.B, s.T, s.NH, s.HS}); }
static size_t kv_size(const AttentionShape& s) { return sz({s.B, s.T, s.NKV, s.HS}); }

class AttentionFwd : public OpCase {
 public:
  // qscale > 1 sharpens the softmax (scores ~ N(0, qscale^2)).
  AttentionFwd(AttentionShape s, float qscale = 1.0f) : s(s), qscale(qscale) {}
  OpKind op() const override { return OpKind::Attention; }
  std::string name() const override { return strfmt("attention_fwd(%s,qscale=%g)", shape_str(s).c_str(), qscale); }
  void build(TensorSet& ts, Backend&, uint64_t seed) const override {
    ts.input("q", random_vector(q_size(s), seed, qscale));
    ts.input("k", random_vector(kv_size(s), seed + 1));
    ts.input("v", random_vector(kv_size(s), seed + 2));
    ts.output("out", q_size(s));
    ts.output("lse", sz({s.B, s.NH, s.T}));
  }
  void run(Backend& be, const OpArgs& a) const override {
    be.attention_forward(a.f(3), a.f(4), a.f(0), a.f(1), a.f(2), s);
  }
  // fp32 dot products, exp and a T-term weighted sum vs double: cpu shows <= 2e-7; 1e-5 leaves room for GPU
  // reduction orders and fast exp intrinsics while a wrong scale, mask or head mapping gives errors of order 1.
  double tolerance() const override { return 1e-5; }
  double tolerance_for(const std::string& backend) const override {
    return attention_tolerance(s, backend, tolerance());
  }

 private:
  AttentionShape s;
  float qscale;
};

class AttentionBwd : public OpCase {
 public:
  AttentionBwd(AttentionShape s, float qscale = 1.0f) : s(s), qscale(qscale) {}
  OpKind op() const override { return OpKind::Attention; }
  std::string name() const override { return strfmt("attention_bwd(%s,qscale=%g)", shape_str(s).c_str(), qscale); }
  void build(TensorSet& ts, Backend& ref, uint64_t seed) const override {
    auto q = random_vector(q_size(s), seed, qscale);
    auto k = random_vector(kv_size(s), seed + 1);
    auto v = random_vector(kv_size(s), seed + 2);
    std::vector<float> out(q.size()), lse(sz({s.B, s.NH, s.T}));
    ref.attention_forward(out.data(), lse.data(), q.data(), k.data(), v.data(), s);
    ts.input("q", q);
    ts.input("k", k);
    ts.input("v", v);
    ts.input("out", out);
    ts.input("lse", lse);
    ts.input("dout", random_vector(q_size(s), seed + 3));
    ts.accum("dq", random_vector(q_size(s), seed + 4, 0.3f));
    ts.accum("dk", random_vector(kv_size(s), seed + 5, 0.3f));
    ts.accum("dv", random_vector(kv_size(s), seed + 6, 0.3f));
  }
  void run(Backend& be, const OpArgs& a) const override {
    be.attention_backward(a.f(6), a.f(7), a.f(8), a.f(5), a.f(0), a.f(1), a.f(2), a.f(3), a.f(4), s);
  }
  // Gradients recompute probabilities in fp32 from lse and subtract D = dout.out; cancellation in dp - D
  // raises the fp32 error above the forward's (cpu shows <= 6e-7), hence 2e-5.
  double tolerance() const override { return 2e-5; }
  double tolerance_for(const std::string& backend) const override {
    return attention_tolerance(s, backend, tolerance());
  }

 private:
  AttentionShape s;
  float qscale;
};

// Cached attention (generation): rows at different lengths append Tq tokens each (distinct positions, so the
// stored cache is order-free); the caches already hold random earlier keys and values, and are checked after the
// store as well as the output. bf16 caches: q is rounded to bf16 and k/v are stored rounded.
class AttentionCachedCase : public OpCase {
 public:
  AttentionCachedCase(CachedAttentionShape s, std::vector<int> start) : s(s), start(std::move(start)) {}
  OpKind op() const override { return OpKind::AttentionCached; }
  std::string name() const override {
    std::string st;
    for (int x : start) {  // appended piece by piece: GCC 12's -Wrestrict misfires on "/" + std::string at -O3
      if (!st.empty()) st += '/';
      st += std::to_string(x);
    }
    return strfmt("attention_cached(B=%d,Tq=%d,S=%d,NH=%d,NKV=%d,HS=%d,start=%s%s)", s.B, s.Tq, s.S, s.NH, s.NKV,
                  s.HS, st.c_str(), s.bf16_cache ? ",bf16" : "");
  }
  void build(TensorSet& ts, Backend&, uint64_t seed) const override {
    const size_t nq = sz({s.B, s.Tq, s.NH, s.HS}), nkv = sz({s.B, s.Tq, s.NKV, s.HS});
    const size_t ncache = sz({s.B, s.S, s.NKV, s.HS});
    std::vector<int32_t> pos;
    for (int b = 0; b < s.B; ++b)
      for (int t = 0; t < s.Tq; ++t) pos.push_back(start[b] + t);
    ts.input("q", random_vector(nq, seed, 2.0f));
    ts.input("k_new", random_vector(nkv, seed + 1));
    ts.input("v_new", random_vector(nkv, seed + 2));
    ts.input_i32("pos", pos);
    if (s.bf16_cache) {
      ts.inout_bf16("k_cache", random_vector(ncache, seed + 3));
      ts.inout_bf16("v_cache", random_vector(ncache, seed + 4));
    } else {
      ts.inout("k_cache", random_vector(ncache, seed + 3));
      ts.inout("v_cache", random_vector(ncache, seed + 4));
    }
    ts.output("out", nq);
  }
  void run(Backend& be, const OpArgs& a) const override {
    be.attention_cached(a.f(6), a.f(0), a.f(1), a.f(2), a.ptrs.at(4), a.ptrs.at(5), a.i32(3), s);
  }
  // As the forward attention: fp32 dots, exp and sums against double (cpu and the CUDA kernel alike).
  double tolerance() const override { return 1e-5; }

 private:
  CachedAttentionShape s;
  std::vector<int> start;
};

// ---- swiglu, add ----------------------------------------------------------------------------------------

class SwigluFwd : public OpCase {
 public:
  explicit SwigluFwd(size_t n) : n(n) {}
  OpKind op() const override { return OpKind::SwiGLU; }
  std::string name() const override { return strfmt("swiglu_fwd(n=%zu)", n); }
  void build(TensorSet& ts, Backend&, uint64_t s) const override {
    ts.input("gate", random_vector(n, s, 4.0f));  // wide range: saturated sigmoid on both sides
    ts.input("up", random_vector(n, s + 1));
    ts.output("out", n);
  }
  void run(Backend& be, const OpArgs& a) const override { be.swiglu_forward(a.f(2), a.f(0), a.f(1), n); }
  double tolerance() const override { return 1e-6; }  // elementwise: a few fp32 roundings

 private:
  size_t n;
};

class SwigluBwd : public OpCase {
 public:
  explicit SwigluBwd(size_t n) : n(n) {}
  OpKind op() const override { return OpKind::SwiGLU; }
  std::string name() const override { return strfmt("swiglu_bwd(n=%zu)", n); }
  void build(TensorSet& ts, Backend&, uint64_t s) const override {
    ts.input("gate", random_vector(n, s, 4.0f));
    ts.input("up", random_vector(n, s + 1));
    ts.input("dout", random_vector(n, s + 2));
    ts.accum("dgate", random_vector(n, s + 3));
    ts.accum("dup", random_vector(n, s + 4));
  }
  void run(Backend& be, const OpArgs& a) const override {
    be.swiglu_backward(a.f(3), a.f(4), a.f(2), a.f(0), a.f(1), n);
  }
  double tolerance() const override { return 1e-6; }

 private:
  size_t n;
};

class AddCase : public OpCase {
 public:
  enum Alias { kNone, kOutIsA, kOutIsB };
  AddCase(size_t n, Alias alias) : n(n), alias(alias) {}
  OpKind op() const override { return OpKind::Add; }
  std::string name() const override {
    return strfmt("add(n=%zu%s)", n, alias == kOutIsA ? ",out=a" : alias == kOutIsB ? ",out=b" : "");
  }
  void build(TensorSet& ts, Backend&, uint64_t s) const override {
    auto a = random_vector(n, s), b = random_vector(n, s + 1);
    if (alias == kOutIsA) ts.inout("a", a);
    else ts.input("a", a);
    if (alias == kOutIsB) ts.inout("b", b);
    else ts.input("b", b);
    if (alias == kNone) ts.output("out", n);
  }
  void run(Backend& be, const OpArgs& a) const override {
    float* out = alias == kOutIsA ? a.f(0) : alias == kOutIsB ? a.f(1) : a.f(2);
    be.add(out, a.f(0), a.f(1), n);
  }
  double tolerance() const override { return 0; }  // one correctly rounded fp32 add: bit-exact

 private:
  size_t n;
  Alias alias;
};

// ---- cross entropy --------------------------------------------------------------------------------------

inline constexpr int kIgnore = -100;

// Targets: random classes; every `ignore_every`-th row (0: none, 1: all) set to the ignore index.
static std::vector<int32_t> ce_targets(int N, int V, int ignore_every, uint64_t s) {
  auto t = random_ints(N, 0, V, s);
  if (ignore_every)
    for (int n = 0; n < N; n += ignore_every) t[n] = kIgnore;
  return t;
}

class CrossEntropyFwd : public OpCase {
 public:
  CrossEntropyFwd(int N, int V, int ignore_every, float logit_scale)
      : N(N), V(V), ignore_every(ignore_every), logit_scale(logit_scale) {}
  OpKind op() const override { return OpKind::CrossEntropy; }
  std::string name() const override {
    return strfmt("cross_entropy_fwd(N=%d,V=%d,ignore_every=%d,logit_scale=%g)", N, V, ignore_every, logit_scale);
  }
  void build(TensorSet& ts, Backend&, uint64_t s) const override {
    ts.input("logits", random_vector(sz({N, V}), s, logit_scale));
    ts.input_i32("targets", ce_targets(N, V, ignore_every, s + 1));
    ts.output("losses", N);
  }
  void run(Backend& be, const OpArgs& a) const override {
    be.cross_entropy_forward(a.f(2), a.f(0), a.i32(1), N, V, kIgnore);
  }
  double tolerance() const override { return 1e-5; }

 private:
  int N, V, ignore_every;
  float logit_scale;
};

class CrossEntropyBwd : public OpCase {
 public:
  CrossEntropyBwd(int N, int V, int ignore_every, float logit_scale, bool in_place)
      : N(N), V(V), ignore_every(ignore_every), logit_scale(logit_scale), in_place(in_place) {}
  OpKind op() const override { return OpKind::CrossEntropy; }
  std::string name() const override {
    return strfmt("cross_entropy_bwd(N=%d,V=%d,ignore_every=%d,logit_scale=%g%s)", N, V, ignore_every, logit_scale,
               in_place ? ",in_place" : "");
  }
  void build(TensorSet& ts, Backend&, uint64_t s) const override {
    auto logits = random_vector(sz({N, V}), s, logit_scale);
    if (in_place) ts.inout("logits", logits);
    else ts.input("logits", logits);
    ts.input_i32("targets", ce_targets(N, V, ignore_every, s + 1));
    if (!in_place) ts.output("dlogits", logits.size());  // overwritten (not "+="): NaN fill must disappear
  }
  void run(Backend& be, const OpArgs& a) const override {
    float* d = in_place ? a.f(0) : a.f(2);
    be.cross_entropy_backward(d, a.f(0), a.i32(1), scale(), N, V, kIgnore);
  }
  double tolerance() const override { return 1e-5; }

 private:
  float scale() const { return 1.0f / (float)N; }
  int N, V, ignore_every;
  float logit_scale;
  bool in_place;
};

// ---- fill -----------------------------------------------------------------------------------------------

class FillZeroCase : public OpCase {
 public:
  // Zeroes `bytes` starting `offset` floats into a random buffer of n floats; the rest must stay as it was.
  FillZeroCase(size_t n, size_t offset, size_t bytes) : n(n), offset(offset), bytes(bytes) {}
  OpKind op() const override { return OpKind::Fill; }
  std::string name() const override { return strfmt("fill_zero(n=%zu,offset=%zu,bytes=%zu)", n, offset, bytes); }
  void build(TensorSet& ts, Backend&, uint64_t s) const override { ts.inout("buf", random_vector(n, s)); }
  void run(Backend& be, const OpArgs& a) const override { be.fill_zero(a.f(0) + offset, bytes); }
  double tolerance() const override { return 0; }

 private:
  size_t n, offset, bytes;
};

class AdamWCase : public OpCase {
 public:
  AdamWCase(size_t n, float wd, float grad_scale, int64_t step) : n(n), wd(wd), grad_scale(grad_scale), step(step) {}
  OpKind op() const override { return OpKind::AdamW; }
  std::string name() const override {
    return strfmt("adamw(n=%zu,wd=%g,grad_scale=%g,step=%lld)", n, wd, grad_scale, (long long)step);
  }
  void build(TensorSet& ts, Backend&, uint64_t s) const override {
    ts.input("grad", random_vector(n, s, 0.1f));
    ts.inout("param", random_vector(n, s + 1));
    ts.inout("m", random_vector(n, s + 2, 0.01f));
    std::vector<float> v = random_vector(n, s + 3, 1e-3f);
    for (float& x : v) x = x * x;  // second moments are non-negative
    ts.inout("v", v);
  }
  void run(Backend& be, const OpArgs& a) const override {
    AdamWStep st;
    st.lr = 1e-2f, st.weight_decay = wd, st.grad_scale = grad_scale, st.step = step;
    be.adamw_update(a.f(1), a.f(0), a.f(2), a.f(3), n, st);
  }
  double tolerance() const override { return 1e-6; }  // elementwise: a few fp32 roundings vs double

 private:
  size_t n;
  float wd, grad_scale;
  int64_t step;
};

class SumSquaresCase : public OpCase {
 public:
  explicit SumSquaresCase(size_t n) : n(n) {}
  OpKind op() const override { return OpKind::SumSquares; }
  std::string name() const override { return strfmt("sum_squares(n=%zu)", n); }
  void build(TensorSet& ts, Backend&, uint64_t s) const override {
    ts.input("x", random_vector(n, s));
    ts.output("sum", 1);
  }
  void run(Backend& be, const OpArgs& a) const override {
    const float sum = (float)be.sum_squares(a.f(0), n);
    be.copy(a.f(1), &sum, sizeof sum);
  }
  double tolerance() const override { return 1e-6; }

 private:
  size_t n;
};

// ---- bf16 storage ops -----------------------------------------------------------------------------------

class LinearBf16Fwd : public OpCase {
 public:
  LinearBf16Fwd(int N, int IC, int OC) : N(N), IC(IC), OC(OC) {}
  OpKind op() const override { return OpKind::LinearBf16; }
  std::string name() const override { return strfmt("linear_bf16_fwd(N=%d,IC=%d,OC=%d)", N, IC, OC); }
  void build(TensorSet& ts, Backend&, uint64_t s) const override {
    ts.input("x", random_vector(sz({N, IC}), s));  // fp32: the op rounds it
    ts.input_bf16("w", random_vector(sz({OC, IC}), s + 1, 0.1f));
    ts.output("out", sz({N, OC}));
  }
  void run(Backend& be, const OpArgs& a) const override {
    be.linear_forward_bf16(a.f(2), a.f(0), a.h(1), N, IC, OC);
  }
  // Products of bf16 values are exact in fp32, so only the fp32 summation differs from the double reference; an
  // unrounded x gives ~1e-3.
  double tolerance() const override { return 1e-5; }

 private:
  int N, IC, OC;
};

class LinearBf16Bwd : public OpCase {
 public:
  LinearBf16Bwd(int N, int IC, int OC, bool with_dx, bool with_dw)
      : N(N), IC(IC), OC(OC), with_dx(with_dx), with_dw(with_dw) {}
  OpKind op() const override { return OpKind::LinearBf16; }
  std::string name() const override {
    return strfmt("linear_bf16_bwd(N=%d,IC=%d,OC=%d%s%s)", N, IC, OC, with_dx ? ",dx" : "", with_dw ? ",dw" : "");
  }
  void build(TensorSet& ts, Backend&, uint64_t s) const override {
    ts.input("x", random_vector(sz({N, IC}), s));
    ts.input_bf16("w", random_vector(sz({OC, IC}), s + 1, 0.1f));
    ts.input("dout", random_vector(sz({N, OC}), s + 2));
    if (with_dx) ts.accum("dx", random_vector(sz({N, IC}), s + 3));
    if (with_dw) ts.accum_bf16("dw", random_vector(sz({OC, IC}), s + 4, 2.0f));
  }
  void run(Backend& be, const OpArgs& a) const override {
    int k = 3;
    float* dx = with_dx ? a.f(k++) : nullptr;
    bf16* dw = with_dw ? a.h(k++) : nullptr;
    be.linear_backward_bf16(dx, dw, a.f(2), a.f(0), a.h(1), N, IC, OC);
  }
  double tolerance() const override { return 1e-5; }

 private:
  int N, IC, OC;
  bool with_dx, with_dw;
};

class EmbeddingBf16Fwd : public OpCase {
 public:
  EmbeddingBf16Fwd(int N, int C, int V) : N(N), C(C), V(V) {}
  OpKind op() const override { return OpKind::EmbeddingBf16; }
  std::string name() const override { return strfmt("embedding_bf16_fwd(N=%d,C=%d,V=%d)", N, C, V); }
  void build(TensorSet& ts, Backend&, uint64_t s) const override {
    ts.input_i32("tokens", random_ints((size_t)N, 0, V, s));
    ts.input_bf16("table", random_vector(sz({V, C}), s + 1));
    ts.output("out", sz({N, C}));
  }
  void run(Backend& be, const OpArgs& a) const override {
    be.embedding_forward_bf16(a.f(2), a.i32(0), a.h(1), N, C, V);
  }
  double tolerance() const override { return 0; }  // bf16 -> fp32 is exact

 private:
  int N, C, V;
};

class EmbeddingBf16Bwd : public OpCase {
 public:
  EmbeddingBf16Bwd(int N, int C, int V) : N(N), C(C), V(V) {}
  OpKind op() const override { return OpKind::EmbeddingBf16; }
  std::string name() const override { return strfmt("embedding_bf16_bwd(N=%d,C=%d,V=%d)", N, C, V); }
  void build(TensorSet& ts, Backend&, uint64_t s) const override {
    ts.input_i32("tokens", random_ints((size_t)N, 0, V, s));  // N > V: repeated tokens; some rows untouched
    ts.input("dout", random_vector(sz({N, C}), s + 1));
    ts.accum_bf16("dtable", random_vector(sz({V, C}), s + 2));
  }
  void run(Backend& be, const OpArgs& a) const override {
    be.embedding_backward_bf16(a.h(2), a.f(1), a.i32(0), N, C, V);
  }
  double tolerance() const override { return 1e-6; }

 private:
  int N, C, V;
};

class AdamWBf16Case : public OpCase {
 public:
  AdamWBf16Case(size_t n, float wd, float grad_scale, int64_t step)
      : n(n), wd(wd), grad_scale(grad_scale), step(step) {}
  OpKind op() const override { return OpKind::AdamWBf16; }
  std::string name() const override {
    return strfmt("adamw_bf16(n=%zu,wd=%g,grad_scale=%g,step=%lld)", n, wd, grad_scale, (long long)step);
  }
  void build(TensorSet& ts, Backend&, uint64_t s) const override {
    ts.input_bf16("grad", random_vector(n, s, 0.1f));
    const std::vector<float> master = random_vector(n, s + 1);
    ts.inout("master", master);
    ts.inout_bf16("param", master);  // the working copy: bf16(master)
    ts.inout("m", random_vector(n, s + 2, 0.01f));
    std::vector<float> v = random_vector(n, s + 3, 1e-3f);
    for (float& x : v) x = x * x;
    ts.inout("v", v);
  }
  void run(Backend& be, const OpArgs& a) const override {
    AdamWStep st;
    st.lr = 1e-2f, st.weight_decay = wd, st.grad_scale = grad_scale, st.step = step;
    be.adamw_update_bf16(a.f(1), a.h(2), a.h(0), a.f(3), a.f(4), n, st);
  }
  double tolerance() const override { return 1e-6; }

 private:
  size_t n;
  float wd, grad_scale;
  int64_t step;
};

class SumSquaresBf16Case : public OpCase {
 public:
  explicit SumSquaresBf16Case(size_t n) : n(n) {}
  OpKind op() const override { return OpKind::SumSquaresBf16; }
  std::string name() const override { return strfmt("sum_squares_bf16(n=%zu)", n); }
  void build(TensorSet& ts, Backend&, uint64_t s) const override {
    ts.input_bf16("x", random_vector(n, s));
    ts.output("sum", 1);
  }
  void run(Backend& be, const OpArgs& a) const override {
    const float sum = (float)be.sum_squares_bf16(a.h(0), n);
    be.copy(a.f(1), &sum, sizeof sum);
  }
  double tolerance() const override { return 1e-6; }

 private:
  size_t n;
};

// Conversions are exact operations (round to nearest even; widening): every backend must match bit for bit.
class ConvertBf16Case : public OpCase {
 public:
  ConvertBf16Case(size_t n, bool to_bf16) : n(n), to_bf16(to_bf16) {}
  OpKind op() const override { return OpKind::ConvertBf16; }
  std::string name() const override { return strfmt("convert_%s(n=%zu)", to_bf16 ? "f32_to_bf16" : "bf16_to_f32", n); }
  void build(TensorSet& ts, Backend&, uint64_t s) const override {
    std::vector<float> x = random_vector(n, s, 3.0f);
    // Exact ties (round to even: down, then up), the largest finite bf16, a negative zero and a subnormal.
    const float special[] = {1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f, -(2.0f + 0x1p-7f), 0x1.FEp127f, -0.0f, 0x1p-130f};
    for (size_t k = 0; k < std::size(special) && k < n; ++k) x[k] = special[k];
    if (to_bf16) {
      ts.input("x", x);
      ts.output_bf16("y", n);
    } else {
      ts.input_bf16("x", x);
      ts.output("y", n);
    }
  }
  void run(Backend& be, const OpArgs& a) const override {
    if (to_bf16) be.convert_f32_to_bf16(a.h(1), a.f(0), n);
    else be.convert_bf16_to_f32(a.f(1), a.h(0), n);
  }
  double tolerance() const override { return 0; }
  double bf16_tolerance() const override { return 0; }

 private:
  size_t n;
  bool to_bf16;
};

// ---- registry -------------------------------------------------------------------------------------------

static std::vector<std::unique_ptr<OpCase>> make_cases() {
  std::vector<std::unique_ptr<OpCase>> r;
  auto add = [&r](OpCase* c) { r.emplace_back(c); };
  const bool F = false, B = true;  // rope direction

  add(new EmbeddingFwd(24, 70, 7));
  add(new EmbeddingFwd(1, 5, 3));
  add(new EmbeddingBwd(24, 130, 7));  // C spans several 64-column blocks plus a tail
  add(new EmbeddingBwd(1, 3, 2));

  add(new RmsNormFwd(7, 96, 1e-5f));
  add(new RmsNormFwd(1, 33, 1e-6f));
  add(new RmsNormBwd(7, 96, true, true));
  add(new RmsNormBwd(5, 33, true, false));
  add(new RmsNormBwd(5, 33, false, true));

  add(new LinearFwd(9, 37, 23));
  add(new LinearFwd(1, 64, 5));
  add(new LinearFwd(33, 129, 65));
  add(new LinearBwd(9, 37, 23, true, true));
  add(new LinearBwd(9, 37, 23, true, false));
  add(new LinearBwd(9, 37, 23, false, true));
  add(new LinearBwd(33, 129, 65, true, true));

  add(new RopeCase(F, 2, 5, 3, 16, 10000.0f, 0, false));
  add(new RopeCase(F, 2, 9, 2, 64, 500000.0f, 2048, false));
  add(new RopeCase(F, 1, 3, 4, 128, 1000000.0f, 64, true));
  add(new RopeCase(B, 2, 5, 3, 16, 10000.0f, 0, false));
  add(new RopeCase(B, 2, 9, 2, 64, 500000.0f, 2048, false));
  add(new RopeCase(B, 1, 3, 4, 128, 1000000.0f, 64, true));

  const AttentionShape mha{2, 7, 4, 4, 16}, gqa{2, 13, 6, 2, 8}, t1{3, 1, 4, 1, 32}, odd{1, 37, 4, 2, 64};
  for (const auto& s : {mha, gqa, t1, odd}) {
    add(new AttentionFwd(s));
    add(new AttentionBwd(s));
  }
  add(new AttentionFwd({1, 19, 2, 1, 32}, 4.0f));  // peaked softmax
  add(new AttentionBwd({1, 19, 2, 1, 32}, 4.0f));
  add(new AttentionCachedCase({3, 1, 24, 4, 2, 16, false}, {0, 9, 23}));   // decode steps: first and last slots
  add(new AttentionCachedCase({2, 5, 20, 4, 4, 32, false}, {0, 7}));       // a prefill pass, MHA
  add(new AttentionCachedCase({1, 3, 300, 8, 2, 64, false}, {260}));       // more keys than one CUDA tile
  add(new AttentionCachedCase({3, 1, 24, 4, 2, 16, true}, {0, 9, 23}));
  add(new AttentionCachedCase({2, 5, 20, 6, 2, 8, true}, {4, 12}));

  add(new SwigluFwd(1001));
  add(new SwigluFwd(1));
  add(new SwigluBwd(1001));

  add(new AddCase(1037, AddCase::kNone));
  add(new AddCase(1037, AddCase::kOutIsA));
  add(new AddCase(5, AddCase::kOutIsB));

  add(new CrossEntropyFwd(6, 50, 3, 1.0f));    // rows 0 and 3 ignored
  add(new CrossEntropyFwd(5, 37, 1, 1.0f));    // all rows ignored
  add(new CrossEntropyFwd(4, 300, 0, 20.0f));  // large logits: needs the max-subtracted logsumexp
  add(new CrossEntropyBwd(6, 50, 3, 1.0f, false));
  add(new CrossEntropyBwd(5, 37, 1, 1.0f, false));
  add(new CrossEntropyBwd(4, 300, 0, 20.0f, false));
  add(new CrossEntropyBwd(6, 50, 2, 1.0f, true));  // dlogits aliases logits

  add(new FillZeroCase(1, 0, 4));
  add(new FillZeroCase(1001, 0, 1001 * 4));
  add(new FillZeroCase(1001, 3, 2050));  // interior range, byte count not a multiple of 4

  add(new AdamWCase(1003, 0.0f, 1.0f, 1));
  add(new AdamWCase(1003, 0.1f, 0.5f, 17));  // decay, clipped gradient, later step
  add(new SumSquaresCase(1));
  add(new SumSquaresCase(40000));  // several reduction chunks

  add(new LinearBf16Fwd(9, 37, 23));
  add(new LinearBf16Fwd(33, 128, 64));
  add(new LinearBf16Bwd(9, 37, 23, true, false));
  add(new LinearBf16Bwd(9, 37, 23, false, true));
  add(new LinearBf16Bwd(33, 128, 64, true, true));
  // Larger shapes: oneDNN's blocked kernels (and their tails) on the cpu backend where the CPU has bf16 units.
  add(new LinearBf16Fwd(37, 256, 300));
  add(new LinearBf16Bwd(37, 256, 300, true, true));
  add(new LinearBf16Bwd(5, 300, 256, false, true));
  add(new EmbeddingBf16Fwd(24, 70, 7));
  add(new EmbeddingBf16Bwd(40, 130, 7));
  add(new EmbeddingBf16Bwd(1, 3, 2));
  add(new AdamWBf16Case(1003, 0.0f, 1.0f, 1));
  add(new AdamWBf16Case(1003, 0.1f, 0.5f, 17));
  add(new SumSquaresBf16Case(40000));
  add(new ConvertBf16Case(1001, true));
  add(new ConvertBf16Case(1001, false));
  // Attention on bf16-rounded q, k, v: the tensor-core path (HS multiple of 16) and the rounded fallback (HS 8).
  for (const AttentionShape& s : {AttentionShape{2, 7, 4, 4, 16, true}, AttentionShape{2, 13, 6, 2, 8, true},
                                  AttentionShape{1, 70, 4, 2, 64, true}, AttentionShape{1, 130, 2, 2, 128, true}}) {
    add(new AttentionFwd(s));
    add(new AttentionBwd(s));
  }
  return r;
}

const std::vector<std::unique_ptr<OpCase>>& op_cases() {
  static const auto cases = make_cases();
  return cases;
}

}  // namespace strata::test
