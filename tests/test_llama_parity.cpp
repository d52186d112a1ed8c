// Parity of LlamaModel with Hugging Face LlamaForCausalLM: logits, loss and every parameter gradient against the
// goldens in tests/golden/ (written by tools/make_llama_goldens.py: float32 PyTorch, eager attention).
// Each golden runs on the CPU and reference backends, the CUDA backend on the CPU emulation of the device
// ("cuda-emu", every machine) and on a GPU ("cuda:0", skipped without one), with and without activation
// checkpointing, in fp32 (bound 1e-5) and in the bf16 engine (bound kBf16Tol: bf16 weights and GEMM inputs against
// the fp32 golden). Negative tests show the checks can fail: a perturbed weight and unshifted labels are detected.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "backend/backend_registry.h"
#include "backend/ref/ref_backend.h"
#include "core/check.h"
#include "model/llama_model.h"
#include "tests/support/golden_file.h"
#include "tests/support/tensor_compare.h"

namespace strata {
namespace {

using test::ErrorStats;
using test::GoldenFile;

constexpr double kTol = 1e-5;  // rel L2 and max_abs / max_ref, for logits, loss and every gradient
// The bf16 engine against the fp32 golden: weights and every GEMM input carry bf16's 2^-9 relative rounding, and
// the gradients of bf16 tensors are themselves rounded to bf16. Measured worst errors are printed per run.
constexpr double kBf16Tol = 8e-2;  // cpu/ref measure <= 1.7e-2 (logits), 4.4e-2 (grads); CUDA also rounds P

const char* const kGoldens[] = {"llama_tiny.bin", "llama_tiny_tied.bin", "llama_tiny_mha.bin"};

// ---- golden -> model ------------------------------------------------------------------------------------------

ModelConfig config_of(const GoldenFile& g) {
  ModelConfig c;
  c.dim = (int)g.meta_int("dim");
  c.n_layers = (int)g.meta_int("n_layers");
  c.n_heads = (int)g.meta_int("n_heads");
  c.n_kv_heads = (int)g.meta_int("n_kv_heads");
  c.ffn_dim = (int)g.meta_int("ffn_dim");
  c.vocab = (int)g.meta_int("vocab");
  c.rope_theta = (float)g.meta_double("rope_theta");
  c.norm_eps = (float)g.meta_double("norm_eps");
  c.tie_embeddings = g.meta_bool("tie_embeddings");
  c.max_seq_len = (int)g.meta_int("max_seq_len");
  c.validate();
  STRATA_CHECK(g.meta_int("head_dim") == c.head_dim(),
               g.path() + ": golden head_dim " + g.meta("head_dim") + " != dim / n_heads = " +
                   std::to_string(c.head_dim()) + " (HF head_dim overrides are not supported)");
  return c;
}

// One parameter tensor: its HF name and where it lives in the layer-major param/grad blobs.
struct ParamRef {
  std::string hf_name;
  BlobId blob;
  int index = 0;
  std::vector<int64_t> shape;
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
};

std::vector<ParamRef> param_refs(const LlamaModel& m) {
  const ModelLayout& lay = m.layout();
  const BlobIds& ids = m.ids();
  std::vector<ParamRef> refs;
  refs.push_back({lay.embedding.tensors[0].name, ids.embedding(), 0, lay.embedding.tensors[0].shape});
  for (int l = 0; l < m.config().n_layers; ++l)
    for (int i = 0; i < (int)lay.block.tensors.size(); ++i) {
      const TensorSpec& t = lay.block.tensors[i];
      refs.push_back({"model.layers." + std::to_string(l) + "." + t.name, ids.block(l), i, t.shape});
    }
  refs.push_back({lay.final_norm.tensors[0].name, ids.final_norm(), 0, lay.final_norm.tensors[0].shape});
  if (!m.config().tie_embeddings) refs.push_back({lay.head.tensors[0].name, ids.head(), 0, lay.head.tensors[0].shape});
  return refs;
}

// The golden must hold exactly the model's parameters and their gradients (plus the batch and outputs): a tensor
// the model does not have (e.g. lm_head.weight in a tied golden) would otherwise be silently ignored.
void check_golden_names(const GoldenFile& g, const std::vector<ParamRef>& refs) {
  std::set<std::string> expected = {"input_ids", "labels", "logits", "loss"};
  for (const auto& r : refs) {
    expected.insert(r.hf_name);
    expected.insert("grad." + r.hf_name);
  }
  for (const auto& t : g.tensors())
    STRATA_CHECK(expected.count(t.name), g.path() + ": tensor '" + t.name + "' has no counterpart in the model");
  for (const auto& name : expected) (void)g.tensor(name);  // throws naming the missing tensor
}

// HF labels are unshifted (HF shifts inside the loss); the model takes targets[b,t] = label of position t.
std::vector<int32_t> shift_labels(const std::vector<int32_t>& labels, int B, int T) {
  std::vector<int32_t> targets((size_t)B * T, kIgnoreIndex);
  for (int b = 0; b < B; ++b)
    for (int t = 0; t + 1 < T; ++t) targets[(size_t)b * T + t] = labels[(size_t)b * T + t + 1];
  return targets;
}

// ---- comparison -----------------------------------------------------------------------------------------------

double error_of(const ErrorStats& s) {
  if (!s.finite) return 1e30;
  const double rel_max = s.max_ref > 0 ? s.max_abs / s.max_ref : s.max_abs;
  return std::max(s.rel_l2, rel_max);
}

struct ParityResult {
  double logits_err = 0, loss_err = 0, grad_err = 0;
  std::string worst_grad;
  std::vector<std::string> failures;  // one line per tensor above kTol
  double worst() const { return std::max({logits_err, loss_err, grad_err}); }
};

struct RunOptions {
  bool checkpointing = false;
  Precision precision = Precision::F32;
  int loss_chunk_rows = 0;  // 0: automatic (one chunk for these goldens)
  bool shift = true;                                // false: feed the HF labels unshifted (a deliberate bug)
  std::function<void(LlamaModel&, const std::vector<ParamRef>&)> tweak;  // runs after the weights are loaded
};

ParityResult run_parity(const GoldenFile& g, Backend& be, const RunOptions& opt) {
  const ModelConfig cfg = config_of(g);
  const int B = (int)g.meta_int("B"), T = (int)g.meta_int("T"), V = cfg.vocab;
  ModelOptions mo;
  mo.checkpointing = opt.checkpointing;
  mo.precision = opt.precision;
  mo.loss_chunk_rows = opt.loss_chunk_rows;
  LlamaModel model(be, cfg, mo);
  const std::vector<ParamRef> refs = param_refs(model);
  check_golden_names(g, refs);
  const double tol = opt.precision == Precision::BF16 ? kBf16Tol : kTol;

  for (const auto& r : refs) {
    const std::vector<float>& w = g.f32(r.hf_name, r.shape);
    test::upload_as(be, model.params().tensor(r.blob, r.index), model.params().tensor_spec(r.blob, r.index).dtype, w);
  }
  if (opt.tweak) opt.tweak(model, refs);

  const auto& ids = g.tensor("input_ids");
  const auto& labels = g.tensor("labels");
  STRATA_CHECK(ids.shape == std::vector<int64_t>({B, T}) && labels.shape == ids.shape,
               g.path() + ": input_ids / labels must be [B, T]");
  const std::vector<int32_t> targets = opt.shift ? shift_labels(g.i32("labels"), B, T) : g.i32("labels");
  const int expected_valid = (int)std::count_if(targets.begin(), targets.end(), [](int x) { return x != kIgnoreIndex; });

  ParityResult res;
  std::printf("  %-58s %s\n", "config", cfg.describe().c_str());
  const float loss = model.forward(g.i32("input_ids").data(), targets.data(), B, T);
  EXPECT_EQ(model.valid_targets(), expected_valid);

  std::vector<float> logits((size_t)B * T * V);
  model.copy_logits(logits.data());
  const std::vector<float>& ref_logits = g.f32("logits", {B, T, V});
  const ErrorStats ls = test::compare(logits.data(), ref_logits.data(), logits.size());
  res.logits_err = error_of(ls);
  std::printf("  %-58s err=%.3g %s\n", "logits", res.logits_err, ls.describe().c_str());
  if (res.logits_err > tol) res.failures.push_back("logits: " + ls.describe());

  const float ref_loss = g.f32("loss", {})[0];
  res.loss_err = std::fabs((double)loss - ref_loss) / std::max(std::fabs((double)ref_loss), 1e-30);
  std::printf("  %-58s err=%.3g loss=%.8f ref=%.8f\n", "loss", res.loss_err, loss, ref_loss);
  if (!(res.loss_err <= tol))
    res.failures.push_back("loss: " + std::to_string(loss) + " vs " + std::to_string(ref_loss));

  model.backward();
  for (const auto& r : refs) {
    const std::vector<float> grad = test::download_as_f32(be, model.grads().tensor(r.blob, r.index),
                                                          model.grads().tensor_spec(r.blob, r.index).dtype,
                                                          (size_t)r.numel());
    const std::vector<float>& ref = g.f32("grad." + r.hf_name, r.shape);
    const ErrorStats s = test::compare(grad.data(), ref.data(), grad.size());
    const double e = error_of(s);
    std::printf("  grad %-53s err=%.3g %s\n", r.hf_name.c_str(), e, s.describe().c_str());
    if (e > res.grad_err) {
      res.grad_err = e;
      res.worst_grad = r.hf_name;
    }
    if (e > tol) res.failures.push_back("grad." + r.hf_name + ": " + s.describe());
  }
  std::printf("  worst error: logits %.3g, loss %.3g, grads %.3g (%s)\n", res.logits_err, res.loss_err,
              res.grad_err, res.worst_grad.c_str());
  return res;
}

// nullptr (with the reason in *why) when the backend cannot run here, e.g. cuda:0 without a GPU.
std::unique_ptr<Backend> make(const std::string& name, std::string* why) {
  for (const auto& b : list_backends())
    if (b.name == name && !b.available) {
      *why = b.reason;
      return nullptr;
    }
  return make_backend(name);
}

// ---- parity on every golden x backend x checkpointing -----------------------------------------------------------

struct Case {
  std::string golden;
  std::string backend;
  bool checkpointing;
  Precision precision = Precision::F32;
};

// Short form in test names and messages (gtest would otherwise print the struct's bytes).
void PrintTo(const Case& c, std::ostream* os) {
  *os << c.golden << " on " << c.backend << (c.checkpointing ? " with checkpointing" : "") << " in "
      << to_string(c.precision);
}

class LlamaParity : public ::testing::TestWithParam<Case> {};

TEST_P(LlamaParity, MatchesHuggingFace) {
  const Case& c = GetParam();
  const GoldenFile g = GoldenFile::load(test::golden_path(c.golden));
  std::printf("%s on %s%s in %s (torch %s, transformers %s, %s)\n", c.golden.c_str(), c.backend.c_str(),
              c.checkpointing ? " with checkpointing" : "", to_string(c.precision), g.meta("torch_version").c_str(),
              g.meta("transformers_version").c_str(), g.meta("compute_dtype").c_str());
  std::string unavailable;
  auto be = make(c.backend, &unavailable);
  if (!be) GTEST_SKIP() << c.backend << ": " << unavailable;
  RunOptions o;
  o.checkpointing = c.checkpointing;
  o.precision = c.precision;
  // With checkpointing, also run the head + loss in chunks of 5 rows (not dividing B*T): chunking must not change
  // logits, loss or any gradient beyond rounding.
  if (c.checkpointing) o.loss_chunk_rows = 5;
  const ParityResult r = run_parity(g, *be, o);
  std::string why;
  for (const auto& f : r.failures) why += "\n  " + f;
  EXPECT_TRUE(r.failures.empty()) << r.failures.size() << " tensors above tolerance "
                                  << (c.precision == Precision::BF16 ? kBf16Tol : kTol) << ":" << why;
}

std::vector<Case> all_cases() {
  std::vector<Case> v;
  for (const char* gname : kGoldens)
    for (const char* b : {"cpu", "ref", "cuda-emu", "cuda:0"})
      for (bool ck : {false, true})
        for (Precision p : {Precision::F32, Precision::BF16}) v.push_back({gname, b, ck, p});
  return v;
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  std::string backend = info.param.backend;
  std::replace(backend.begin(), backend.end(), ':', '_');
  std::replace(backend.begin(), backend.end(), '-', '_');
  std::string n = info.param.golden.substr(0, info.param.golden.find('.')) + "_" + backend;
  if (info.param.checkpointing) n += "_ckpt";
  if (info.param.precision == Precision::BF16) n += "_bf16";
  return n;
}

INSTANTIATE_TEST_SUITE_P(Goldens, LlamaParity, ::testing::ValuesIn(all_cases()), case_name);

// ---- the bf16 engine agrees with itself across backends ------------------------------------------------------------

// Logits, loss and every gradient (as fp32) of one bf16 forward + backward on the golden's weights and batch.
struct Bf16Run {
  std::vector<float> logits;
  float loss = 0;
  std::vector<std::vector<float>> grads;
};

Bf16Run run_bf16(const GoldenFile& g, Backend& be, bool checkpointing) {
  const ModelConfig cfg = config_of(g);
  const int B = (int)g.meta_int("B"), T = (int)g.meta_int("T");
  ModelOptions mo;
  mo.checkpointing = checkpointing;
  mo.precision = Precision::BF16;
  LlamaModel model(be, cfg, mo);
  const std::vector<ParamRef> refs = param_refs(model);
  for (const auto& r : refs)
    test::upload_as(be, model.params().tensor(r.blob, r.index), model.params().tensor_spec(r.blob, r.index).dtype,
                    g.f32(r.hf_name, r.shape));
  const std::vector<int32_t> targets = shift_labels(g.i32("labels"), B, T);
  Bf16Run out;
  out.loss = model.forward(g.i32("input_ids").data(), targets.data(), B, T);
  out.logits.resize((size_t)B * T * cfg.vocab);
  model.copy_logits(out.logits.data());
  model.backward();
  for (const auto& r : refs)
    out.grads.push_back(test::download_as_f32(be, model.grads().tensor(r.blob, r.index),
                                              model.grads().tensor_spec(r.blob, r.index).dtype, (size_t)r.numel()));
  return out;
}

// The same bf16 semantics on every backend: cpu, cuda-emu and cuda against ref (double sums). The backends differ by
// fp32 summation order only, but in a bf16 model that is not a small difference: a one-ulp change that flips one bf16
// rounding perturbs its row by ~2^-9, which flips many more roundings downstream, so runs agree at bf16 noise level
// (cpu measures 4e-3 on logits, 1.3e-2 on gradients; cuda-emu, which also rounds P, 9e-3 and 2.5e-2), not fp32
// level. The op-level semantics are pinned exactly by test_bf16_semantics; this checks the whole model is wired the
// same way everywhere (a wrong op gives O(1)).
TEST(LlamaParityBf16, BackendsAgreeWithTheReference) {
  const GoldenFile g = GoldenFile::load(test::golden_path("llama_tiny.bin"));
  for (const char* name : {"cpu", "cuda-emu", "cuda:0"})
    for (bool ck : {false, true}) {
      SCOPED_TRACE(std::string(name) + (ck ? " with checkpointing" : ""));
      std::string why;
      auto be = make(name, &why);
      if (!be) {
        std::printf("%s: skipped (%s)\n", name, why.c_str());
        continue;
      }
      RefBackend ref;
      const Bf16Run a = run_bf16(g, *be, ck), r = run_bf16(g, ref, ck);
      const double tol = std::string(name) == "cpu" ? 3e-2 : 5e-2;
      const double le = error_of(test::compare(a.logits.data(), r.logits.data(), a.logits.size()));
      double worst = 0;
      for (size_t k = 0; k < a.grads.size(); ++k) {
        const test::ErrorStats st = test::compare(a.grads[k].data(), r.grads[k].data(), a.grads[k].size());
        worst = std::max(worst, error_of(st));
      }
      std::printf("%s%s vs ref, bf16: logits %.3g, loss %.3g, worst grad %.3g (bound %.0e)\n", name,
                  ck ? " (checkpointing)" : "", le, std::fabs(a.loss - r.loss) / std::fabs(r.loss), worst, tol);
      EXPECT_LT(le, tol);
      EXPECT_LT(std::fabs(a.loss - r.loss), tol * std::fabs(r.loss));
      EXPECT_LT(worst, tol);
    }
}

// ---- the checks can fail ------------------------------------------------------------------------------------------

TEST(LlamaParityNegative, PerturbedWeightIsDetected) {
  const GoldenFile g = GoldenFile::load(test::golden_path("llama_tiny.bin"));
  CpuBackend be;
  const int mid = (int)g.meta_int("n_layers") / 2;
  const std::string victim = "model.layers." + std::to_string(mid) + ".self_attn.k_proj.weight";
  RunOptions opt;
  opt.tweak = [&](LlamaModel& m, const std::vector<ParamRef>& refs) {
    for (const auto& r : refs) {
      if (r.hf_name != victim) continue;
      float* w = m.params().f32(r.blob, r.index) + 5;
      float v;
      m.backend().copy(&v, w, sizeof v);
      v += 1e-3f;
      m.backend().copy(w, &v, sizeof v);
      return;
    }
    FAIL() << "no parameter named " << victim;
  };
  std::printf("llama_tiny.bin with %s[5] += 1e-3 (must be detected)\n", victim.c_str());
  const ParityResult r = run_parity(g, be, opt);
  EXPECT_GT(r.grad_err, kTol) << "a 1e-3 perturbation of " << victim << " went unnoticed by the gradient check";
  EXPECT_FALSE(r.failures.empty());
}

TEST(LlamaParityNegative, UnshiftedLabelsAreDetected) {
  const GoldenFile g = GoldenFile::load(test::golden_path("llama_tiny.bin"));
  CpuBackend be;
  RunOptions opt;
  opt.shift = false;
  std::printf("llama_tiny.bin with unshifted labels (must be detected)\n");
  const ParityResult r = run_parity(g, be, opt);
  EXPECT_GT(r.loss_err, kTol);
  EXPECT_GT(r.grad_err, kTol);
}

// ---- golden reader errors -----------------------------------------------------------------------------------------

std::vector<uint8_t> read_bytes(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  EXPECT_NE(f, nullptr) << path;
  std::vector<uint8_t> b;
  if (!f) return b;
  uint8_t buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) b.insert(b.end(), buf, buf + n);
  std::fclose(f);
  return b;
}

std::string parse_error(const std::vector<uint8_t>& bytes, const std::string& path) {
  try {
    GoldenFile::parse(bytes, path);
  } catch (const StrataError& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(LlamaParityGoldenFile, ReadsMetadataAndTensors) {
  const GoldenFile g = GoldenFile::load(test::golden_path("llama_tiny.bin"));
  EXPECT_EQ(g.version(), 1u);
  EXPECT_EQ(g.meta_int("dim"), 64);
  EXPECT_EQ(g.meta_double("rope_theta"), 10000.0);
  EXPECT_FALSE(g.meta_bool("tie_embeddings"));
  EXPECT_EQ(g.tensor("logits").shape, (std::vector<int64_t>{2, 16, 97}));
  EXPECT_TRUE(g.tensor("loss").shape.empty());
  EXPECT_EQ(g.i32("input_ids").size(), 32u);
  const GoldenFile tied = GoldenFile::load(test::golden_path("llama_tiny_tied.bin"));
  EXPECT_FALSE(tied.has("lm_head.weight"));
  EXPECT_TRUE(tied.meta_bool("tie_embeddings"));
}

TEST(LlamaParityGoldenFile, ErrorsAreClear) {
  const std::string path = test::golden_path("llama_tiny_mha.bin");
  const std::vector<uint8_t> good = read_bytes(path);
  ASSERT_GT(good.size(), 100u);
  EXPECT_EQ(parse_error(good, path), "");

  auto bad_magic = good;
  bad_magic[0] = 'X';
  std::string e = parse_error(bad_magic, path);
  EXPECT_TRUE(contains(e, "bad magic") && contains(e, path)) << e;

  auto bad_version = good;
  bad_version[8] = 2;
  e = parse_error(bad_version, path);
  EXPECT_TRUE(contains(e, "version 2") && contains(e, path)) << e;

  for (size_t cut : {(size_t)4, (size_t)10, good.size() / 2, good.size() - 1}) {
    const std::vector<uint8_t> truncated(good.begin(), good.begin() + (long)cut);
    e = parse_error(truncated, path);
    EXPECT_TRUE(contains(e, "truncated") && contains(e, "byte offset") && contains(e, path)) << cut << ": " << e;
  }

  auto trailing = good;
  trailing.push_back(0);
  e = parse_error(trailing, path);
  EXPECT_TRUE(contains(e, "trailing")) << e;

  const GoldenFile g = GoldenFile::parse(good, path);
  try {
    g.tensor("grad.model.layers.7.mlp.up_proj.weight");
    ADD_FAILURE() << "missing tensor not reported";
  } catch (const StrataError& err) {
    EXPECT_TRUE(contains(err.what(), "grad.model.layers.7.mlp.up_proj.weight") && contains(err.what(), path))
        << err.what();
  }
  try {
    g.f32("logits", {1, 2, 3});
    ADD_FAILURE() << "shape mismatch not reported";
  } catch (const StrataError& err) {
    EXPECT_TRUE(contains(err.what(), "expected [1, 2, 3]")) << err.what();
  }
  try {
    GoldenFile::load(test::golden_path("no_such_golden.bin"));
    ADD_FAILURE() << "missing file not reported";
  } catch (const StrataError& err) {
    EXPECT_TRUE(contains(err.what(), "no_such_golden.bin")) << err.what();
  }
}

}  // namespace
}  // namespace strata
