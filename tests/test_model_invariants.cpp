// Whole-model invariants: checkpointing does not change gradients (bitwise), frozen blocks get no weight gradient
// while dX still flows, backward stops below the lowest trainable block, runs are reproducible, gradients accumulate,
// and memory accounting returns every byte. Each runs on the cpu backend, the CUDA backend on the CPU emulation of
// the device ("cuda-emu") and on a GPU ("cuda:0", skipped without one); the count of blocks the backward visits is
// taken on the cpu backend only (a counting subclass of it).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include <memory>
#include <string>

#include "backend/cpu/cpu_backend.h"
#include "core/check.h"
#include "core/rng.h"
#include "model/llama_model.h"
#include "model/param_init.h"
#include "tests/support/backends.h"

namespace strata {
namespace {

ModelConfig tiny_config() {
  ModelConfig c;
  c.dim = 64; c.n_layers = 4; c.n_heads = 4; c.n_kv_heads = 2; c.ffn_dim = 96; c.vocab = 53; c.max_seq_len = 32;
  return c;
}

struct Batch {
  int B = 2, T = 12;
  std::vector<int32_t> tokens, targets;
};

Batch make_batch(int vocab, uint64_t seed) {
  Batch b;
  Rng rng(seed);
  const int N = b.B * b.T;
  b.tokens.resize(N);
  b.targets.resize(N);
  for (auto& t : b.tokens) t = (int32_t)rng.below(vocab);
  for (int i = 0; i < N; ++i) b.targets[i] = (i % 5 == 3 || (i + 1) % b.T == 0) ? kIgnoreIndex : b.tokens[i + 1];
  return b;
}

// Counts attention backward calls: one per block the backward pass runs through.
class CountingBackend : public CpuBackend {
 public:
  int attention_backward_calls = 0;
  void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k,
                          const float* v, const float* out, const float* lse, const AttentionShape& s) override {
    ++attention_backward_calls;
    CpuBackend::attention_backward(dq, dk, dv, dout, q, k, v, out, lse, s);
  }
};

std::vector<unsigned char> blob_bytes(LlamaModel& m, ParamStore& store, BlobId blob) {
  std::vector<unsigned char> h(store.blob_bytes(blob));
  m.backend().copy(h.data(), store.blob(blob), h.size());
  return h;
}

struct RunResult {
  float loss = 0;
  std::vector<std::vector<unsigned char>> grads;  // per blob; empty when the blob has no gradient
  int attention_backward_calls = -1;              // -1: not counted (backends other than cpu)
};

// The backend a test runs on: "cpu" is a CountingBackend.
std::unique_ptr<Backend> backend_for(const std::string& name) {
  if (name == "cpu") return std::make_unique<CountingBackend>();
  return make_backend(name);
}

// configure: called on the fresh model to set trainability.
template <class F>
RunResult run_once(const std::string& backend, const ModelConfig& cfg, bool checkpointing, uint64_t seed,
                   F configure) {
  const std::unique_ptr<Backend> owned = backend_for(backend);
  Backend& be = *owned;
  LlamaModel m(be, cfg, ModelOptions{checkpointing});
  init_params_normal(m.params(), be, seed, 0.2f);
  configure(m);
  const Batch b = make_batch(cfg.vocab, seed + 1);
  m.zero_grads();
  RunResult r;
  r.loss = m.forward(b.tokens.data(), b.targets.data(), b.B, b.T);
  m.backward();
  if (const auto* counting = dynamic_cast<const CountingBackend*>(&be))
    r.attention_backward_calls = counting->attention_backward_calls;
  for (BlobId blob : m.ids().all())
    r.grads.push_back(m.grads().has(blob) ? blob_bytes(m, m.grads(), blob) : std::vector<unsigned char>{});
  return r;
}

void all_trainable(LlamaModel&) {}

class ModelInvariants : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string why;
    if (!test::backend_available(GetParam(), &why)) GTEST_SKIP() << GetParam() << ": " << why;
  }
  template <class F>
  RunResult run(const ModelConfig& cfg, bool checkpointing, uint64_t seed, F configure) const {
    return run_once(GetParam(), cfg, checkpointing, seed, configure);
  }
};

TEST_P(ModelInvariants, CheckpointingGivesBitwiseIdenticalGradients) {
  for (bool tied : {false, true}) {
    ModelConfig cfg = tiny_config();
    cfg.tie_embeddings = tied;
    const RunResult plain = run(cfg, false, 11, all_trainable);
    const RunResult ckpt = run(cfg, true, 11, all_trainable);
    EXPECT_EQ(std::memcmp(&plain.loss, &ckpt.loss, sizeof(float)), 0);
    ASSERT_EQ(plain.grads.size(), ckpt.grads.size());
    for (size_t b = 0; b < plain.grads.size(); ++b) EXPECT_EQ(plain.grads[b], ckpt.grads[b]) << "blob " << b;
  }
}

TEST_P(ModelInvariants, SameSeedIsBitwiseReproducible) {
  const RunResult a = run(tiny_config(), false, 5, all_trainable);
  const RunResult b = run(tiny_config(), false, 5, all_trainable);
  EXPECT_EQ(std::memcmp(&a.loss, &b.loss, sizeof(float)), 0);
  EXPECT_EQ(a.grads, b.grads);
  const RunResult c = run(tiny_config(), false, 6, all_trainable);
  EXPECT_NE(a.grads, c.grads) << "a different seed must give different gradients";
}

TEST_P(ModelInvariants, FrozenBlockGetsNoGradientButDxStillFlows) {
  const ModelConfig cfg = tiny_config();
  const RunResult full = run(cfg, false, 21, all_trainable);
  const RunResult frozen = run(cfg, false, 21, [](LlamaModel& m) { m.set_block_trainable(2, false); });
  EXPECT_TRUE(frozen.grads[2].empty()) << "a frozen block must not hold a gradient blob";
  // Gradients below the frozen block depend on dX having flowed through it: they must match the full run exactly.
  for (int blob : {0, 1, 3, 4, 5, 6}) EXPECT_EQ(frozen.grads[blob], full.grads[blob]) << "blob " << blob;
  if (frozen.attention_backward_calls >= 0) {
    EXPECT_EQ(frozen.attention_backward_calls, cfg.n_layers);
  }
}

TEST_P(ModelInvariants, BackwardStopsBelowLowestTrainableBlockWhenEmbeddingFrozen) {
  const ModelConfig cfg = tiny_config();
  const RunResult full = run(cfg, false, 31, all_trainable);
  for (bool ckpt : {false, true}) {
    const RunResult lisa = run(cfg, ckpt, 31, [](LlamaModel& m) {
      m.set_all_trainable(false);
      m.set_block_trainable(2, true);
      m.set_head_trainable(true);
      m.set_final_norm_trainable(true);
    });
    if (lisa.attention_backward_calls >= 0) {
      EXPECT_EQ(lisa.attention_backward_calls, 2) << "blocks 3 and 2 only";
    }
    const BlobIds ids{cfg.n_layers};
    EXPECT_TRUE(lisa.grads[ids.block(0).value].empty());
    EXPECT_TRUE(lisa.grads[ids.block(1).value].empty());
    EXPECT_TRUE(lisa.grads[ids.block(3).value].empty());
    EXPECT_TRUE(lisa.grads[ids.embedding().value].empty());
    EXPECT_EQ(lisa.grads[ids.block(2).value], full.grads[ids.block(2).value]);
    EXPECT_EQ(lisa.grads[ids.head().value], full.grads[ids.head().value]);
    EXPECT_EQ(lisa.grads[ids.final_norm().value], full.grads[ids.final_norm().value]);
  }
  // Only the head trainable: no block is visited.
  const RunResult head_only = run(cfg, false, 31, [](LlamaModel& m) {
    m.set_all_trainable(false);
    m.set_head_trainable(true);
  });
  if (head_only.attention_backward_calls >= 0) {
    EXPECT_EQ(head_only.attention_backward_calls, 0);
  }
  EXPECT_EQ(head_only.grads[BlobIds{cfg.n_layers}.head().value], full.grads[BlobIds{cfg.n_layers}.head().value]);
}

TEST_P(ModelInvariants, GradientsAccumulateAcrossBackwardCalls) {
  const std::unique_ptr<Backend> owned = backend_for(GetParam());
  Backend& be = *owned;
  LlamaModel m(be, tiny_config(), {});
  init_params_normal(m.params(), be, 3, 0.2f);
  const Batch b = make_batch(m.config().vocab, 4);
  m.zero_grads();
  m.forward(b.tokens.data(), b.targets.data(), b.B, b.T);
  m.backward();
  const auto once = blob_bytes(m, m.grads(), BlobId(1));
  m.forward(b.tokens.data(), b.targets.data(), b.B, b.T);
  m.backward();
  const auto twice = blob_bytes(m, m.grads(), BlobId(1));
  const float* g1 = reinterpret_cast<const float*>(once.data());
  const float* g2 = reinterpret_cast<const float*>(twice.data());
  for (size_t i = 0; i < once.size() / sizeof(float); ++i) ASSERT_EQ(g2[i], 2.0f * g1[i]) << "element " << i;
}

TEST_P(ModelInvariants, AllIgnoredBatchGivesZeroLossAndZeroGrads) {
  const std::unique_ptr<Backend> owned = backend_for(GetParam());
  Backend& be = *owned;
  LlamaModel m(be, tiny_config(), {});
  init_params_normal(m.params(), be, 9, 0.2f);
  Batch b = make_batch(m.config().vocab, 10);
  std::fill(b.targets.begin(), b.targets.end(), kIgnoreIndex);
  m.zero_grads();
  const float loss = m.forward(b.tokens.data(), b.targets.data(), b.B, b.T);
  EXPECT_EQ(loss, 0.0f);
  EXPECT_EQ(m.valid_targets(), 0);
  m.backward();
  for (BlobId blob : m.ids().all()) {
    if (!m.grads().has(blob)) continue;
    const auto g = blob_bytes(m, m.grads(), blob);
    const float* f = reinterpret_cast<const float*>(g.data());
    for (size_t i = 0; i < g.size() / sizeof(float); ++i) ASSERT_EQ(f[i], 0.0f) << "blob " << blob;
  }
}

TEST(ModelInputs, BadTokensAndTargetsNameThePosition) {
  CpuBackend be;
  LlamaModel m(be, tiny_config(), {});
  Batch b = make_batch(m.config().vocab, 12);
  b.tokens[13] = 999;
  try {
    m.forward(b.tokens.data(), b.targets.data(), b.B, b.T);
    FAIL() << "expected an error";
  } catch (const StrataError& e) {
    EXPECT_NE(std::string(e.what()).find("batch row 1, position 1"), std::string::npos) << e.what();
  }
  b = make_batch(m.config().vocab, 12);
  b.targets[2] = -7;
  EXPECT_THROW(m.forward(b.tokens.data(), b.targets.data(), b.B, b.T), StrataError);
  b = make_batch(m.config().vocab, 12);
  EXPECT_THROW(m.forward(b.tokens.data(), b.targets.data(), 1, 40), StrataError);  // T > max_seq_len
  EXPECT_THROW(m.backward(), StrataError) << "backward without a successful forward";
}

class MemoryAccounting : public ModelInvariants {};

TEST_P(MemoryAccounting, EveryByteIsReturnedAndBudgetErrorsNameTheCategory) {
  const std::unique_ptr<Backend> owned = backend_for(GetParam());
  Backend& be = *owned;
  {
    LlamaModel m(be, tiny_config(), {});
    const Batch b = make_batch(m.config().vocab, 1);
    m.forward(b.tokens.data(), b.targets.data(), b.B, b.T);
    EXPECT_GT(be.memory().current(MemoryKind::Device, MemoryCategory::Weights), 0u);
    EXPECT_GT(be.memory().current(MemoryKind::Device, MemoryCategory::Activations), 0u);
    m.set_block_trainable(0, false);
    EXPECT_EQ(be.memory().current(MemoryKind::Device, MemoryCategory::Grads),
              be.memory().current(MemoryKind::Device, MemoryCategory::Weights) - m.layout().block.bytes);
  }
  // What stays is the backend's own op scratch (the CPU backend's oneDNN scratchpad and bf16 operands).
  const size_t kept = be.op_scratch_held();
  EXPECT_LE(kept, size_t{1} << 20);
  EXPECT_EQ(be.memory().current(MemoryKind::Device), kept);
  be.memory().set_budget(MemoryKind::Device, kept + (1 << 20));
  try {
    LlamaModel m(be, tiny_config(), {});
    const Batch b = make_batch(m.config().vocab, 1);
    m.forward(b.tokens.data(), b.targets.data(), b.B, b.T);
    FAIL() << "expected the device budget to be exceeded";
  } catch (const StrataError& e) {
    EXPECT_NE(std::string(e.what()).find("device budget exceeded"), std::string::npos) << e.what();
  }
  EXPECT_EQ(be.memory().current(MemoryKind::Device), kept) << "a failed construction must not leak accounted bytes";
}

std::string backend_name(const ::testing::TestParamInfo<std::string>& i) { return test::backend_id(i.param); }
INSTANTIATE_TEST_SUITE_P(Backends, ModelInvariants, ::testing::Values("cpu", "cuda-emu", "cuda:0"), backend_name);
INSTANTIATE_TEST_SUITE_P(Backends, MemoryAccounting, ::testing::Values("cpu", "cuda-emu", "cuda:0"), backend_name);

}  // namespace
}  // namespace strata
