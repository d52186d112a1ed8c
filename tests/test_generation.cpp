// Generation: the KV-cache decoder against the full forward over the same tokens (every backend, fp32 and bf16),
// batched rows of different lengths and multi-pass prompts, greedy ids against HF transformers' generate()
// (tools/make_generate_goldens.py), streamed blocks, seeded sampling, and the generator's stop rules.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/check.h"
#include "core/rng.h"
#include "config/run_config.h"
#include "engine/inference_model.h"
#include "engine/trainer.h"
#include "engine/text_generator.h"
#include "model/llama_decoder.h"
#include "model/param_init.h"
#include "tests/support/backends.h"
#include "tests/support/golden_file.h"
#include "tests/support/temp_dir.h"

namespace strata {
namespace {

namespace fs = std::filesystem;

ModelConfig small_gqa(bool tied = false) {
  ModelConfig c;
  c.dim = 64;
  c.n_layers = 3;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.ffn_dim = 96;
  c.vocab = 97;
  c.max_seq_len = 48;
  c.tie_embeddings = tied;
  return c;
}

std::vector<int32_t> seeded_tokens(uint64_t seed, int n, int V) {
  Rng rng(seed);
  std::vector<int32_t> t(n);
  for (auto& x : t) x = (int32_t)rng.below(V);
  return t;
}

// Logits [T, V] of a full forward over `tokens` (batch 1).
std::vector<float> full_forward_logits(LlamaModel& m, const std::vector<int32_t>& tokens) {
  const int T = (int)tokens.size();
  std::vector<int32_t> targets(T, kIgnoreIndex);
  m.forward(tokens.data(), targets.data(), 1, T);
  std::vector<float> logits((size_t)T * m.config().vocab);
  m.copy_logits(logits.data());
  return logits;
}

// max |a - b| over a row, relative to the row's largest |b|.
double row_rel_error(const float* a, const float* b, int V) {
  double diff = 0, ref = 0;
  for (int v = 0; v < V; ++v) {
    diff = std::max(diff, (double)std::fabs(a[v] - b[v]));
    ref = std::max(ref, (double)std::fabs(b[v]));
  }
  return diff / ref;
}

struct CacheCase {
  std::string backend;
  bool bf16;
};

class KvCacheParity : public ::testing::TestWithParam<CacheCase> {};

// Three rows of different lengths, appended in uneven pieces (a multi-pass prefill of 4 tokens per pass, then
// single tokens, then a chunk), must give the logits of a full forward over each row's whole sequence.
TEST_P(KvCacheParity, DecoderLogitsEqualTheFullForward) {
  std::string why;
  auto be = test::make_backend_if_available(GetParam().backend, &why);
  if (!be) GTEST_SKIP() << why;
  const ModelConfig cfg = small_gqa();
  ModelOptions mo;
  mo.precision = GetParam().bf16 ? Precision::BF16 : Precision::F32;
  LlamaModel m(*be, cfg, mo);
  init_params_normal(m.params(), *be, 5, 0.2f);
  m.set_all_trainable(false);
  const std::vector<int> lengths = {13, 5, 22};
  std::vector<std::vector<int32_t>> seqs;
  for (int r = 0; r < 3; ++r) seqs.push_back(seeded_tokens(100 + r, lengths[r], cfg.vocab));

  LlamaDecoder dec(m, 3, 40, /*pass_tokens=*/4);
  // Pieces per row: [prefill, then 1-token steps..., then the rest]. Row 1 gets nothing in the second call.
  const std::vector<std::vector<int>> cuts = {{7, 1, 1, 4}, {3, 0, 1, 1}, {10, 1, 1, 10}};
  std::vector<std::vector<float>> got(3);
  std::vector<size_t> at(3, 0);
  for (size_t piece = 0; piece < cuts[0].size(); ++piece) {
    std::vector<std::vector<int32_t>> feed(3);
    for (int r = 0; r < 3; ++r) {
      const size_t n = cuts[r][piece];
      feed[r].assign(seqs[r].begin() + at[r], seqs[r].begin() + at[r] + n);
      at[r] += n;
    }
    std::vector<float> all, last((size_t)3 * cfg.vocab, NAN);
    dec.append(feed, last.data(), &all);
    size_t off = 0;
    for (int r = 0; r < 3; ++r) {
      got[r].insert(got[r].end(), all.begin() + off * cfg.vocab, all.begin() + (off + feed[r].size()) * cfg.vocab);
      off += feed[r].size();
      if (!feed[r].empty())  // the last logits are the all-logits row of the row's last token (up to the head GEMM's
                             // summation order, which may depend on its row count: oneDNN's AVX2 kernels)
        EXPECT_LE(row_rel_error(last.data() + (size_t)r * cfg.vocab, got[r].data() + got[r].size() - cfg.vocab,
                                cfg.vocab),
                  1e-6);
      else
        EXPECT_TRUE(std::isnan(last[(size_t)r * cfg.vocab])) << "a row given no tokens keeps its logits";
    }
  }
  const double bound = GetParam().bf16 ? 3e-2 : 1e-5;
  double worst = 0;
  for (int r = 0; r < 3; ++r) {
    ASSERT_EQ(dec.length(r), lengths[r]);
    const std::vector<float> ref = full_forward_logits(m, seqs[r]);
    ASSERT_EQ(got[r].size(), ref.size());
    for (int t = 0; t < lengths[r]; ++t) {
      const double e = row_rel_error(got[r].data() + (size_t)t * cfg.vocab, ref.data() + (size_t)t * cfg.vocab,
                                     cfg.vocab);
      worst = std::max(worst, e);
      EXPECT_LE(e, bound) << "row " << r << " position " << t;
    }
  }
  std::printf("  %s %s: worst relative logits error %.3g\n", GetParam().backend.c_str(),
              GetParam().bf16 ? "bf16" : "fp32", worst);
  EXPECT_THROW(dec.append({std::vector<int32_t>(28, 1), {}, {}}, nullptr), UserError);  // 13 + 28 > 40
}

std::vector<CacheCase> cache_cases() {
  std::vector<CacheCase> v;
  for (const std::string& b : {std::string("cpu"), std::string("ref"), std::string("cuda-emu"), std::string("cuda:0")})
    for (bool bf16 : {false, true}) v.push_back({b, bf16});
  return v;
}
INSTANTIATE_TEST_SUITE_P(Backends, KvCacheParity, ::testing::ValuesIn(cache_cases()),
                         [](const auto& info) {
                           return test::backend_id(info.param.backend) + (info.param.bf16 ? "_bf16" : "_fp32");
                         });

// ---- greedy generation against HF transformers ------------------------------------------------------------------

struct HfCase {
  std::string golden, backend;
};

// The model folder a generate golden names: repo-relative, or "shared/<name>" under ../shared/data.
std::string golden_model_dir(const test::GoldenFile& g) {
  const std::string d = g.meta("model_dir");
  if (d.rfind("shared/", 0) == 0) return std::string(STRATA_SHARED_DATA_DIR) + "/" + d.substr(7);
  return std::string(STRATA_GOLDEN_DIR) + "/../../" + d;
}

class HfGreedy : public ::testing::TestWithParam<HfCase> {};

// Each prompt alone (batch 1) and all prompts in one batch (different lengths) give transformers' greedy ids; the
// prefill's logits match transformers' forward.
TEST_P(HfGreedy, IdsEqualTransformersGenerate) {
  const test::GoldenFile g = test::GoldenFile::load(test::golden_path(GetParam().golden));
  const std::string dir = golden_model_dir(g);
  if (!fs::exists(dir + "/model.safetensors")) GTEST_SKIP() << dir << " is absent (it ships next to the checkout)";
  std::string why;
  if (!test::backend_available(GetParam().backend, &why)) GTEST_SKIP() << why;
  InferenceOptions io;
  io.backend = GetParam().backend;
  InferenceModel im(dir, io);
  const int P = (int)g.meta_int("n_prompts"), max_new = (int)g.meta_int("max_new_tokens");
  const int V = im.info().config.vocab;
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 0; i < P; ++i) prompts.push_back(g.i32("prompt." + std::to_string(i)));
  GenerateOptions go;
  go.max_new_tokens = max_new;  // no stop ids: transformers was run with eos_token_id None
  double worst_logits = 0;
  for (int i = 0; i < P; ++i) {
    LlamaDecoder one(im.model(), 1);
    const auto out = generate_tokens(one, {prompts[i]}, go);
    EXPECT_EQ(out[0].ids, g.i32("greedy." + std::to_string(i))) << "prompt " << i << " alone";
    EXPECT_EQ(out[0].reason, StopReason::Limit);
    // The prefill's last logits against transformers' forward over the prompt.
    LlamaDecoder fresh(im.model(), 1);
    std::vector<float> last(V);
    fresh.append({prompts[i]}, last.data());
    const std::vector<float>& ref = g.f32("last_logits." + std::to_string(i));
    worst_logits = std::max(worst_logits, row_rel_error(last.data(), ref.data(), V));
  }
  EXPECT_LE(worst_logits, 1e-5);
  LlamaDecoder batch(im.model(), P);
  GenerationStats stats;
  const auto out = generate_tokens(batch, prompts, go, &stats);
  for (int i = 0; i < P; ++i)
    EXPECT_EQ(out[i].ids, g.i32("batched." + std::to_string(i))) << "prompt " << i << " in a batch of " << P;
  EXPECT_EQ(stats.new_tokens, (size_t)P * max_new);
  std::printf("  %s on %s: %d prompts x %d tokens equal; prefill logits worst relative error %.3g\n",
              GetParam().golden.c_str(), GetParam().backend.c_str(), P, max_new, worst_logits);
}

std::vector<HfCase> hf_cases() {
  std::vector<HfCase> v;
  for (const char* gold : {"generate_tiny_gqa.bin", "generate_tiny_mha.bin", "generate_tiny_tied.bin",
                           "generate_stories260k.bin"})
    for (const char* be : {"cpu", "ref", "cuda-emu", "cuda:0"}) v.push_back({gold, be});
  return v;
}
INSTANTIATE_TEST_SUITE_P(Goldens, HfGreedy, ::testing::ValuesIn(hf_cases()), [](const auto& info) {
  std::string n = info.param.golden.substr(9, info.param.golden.size() - 13);  // "generate_X.bin" -> X
  return n + "_" + test::backend_id(info.param.backend);
});

// ---- streamed blocks, sampling, stop rules ----------------------------------------------------------------------

std::string tiny_gqa_dir() { return std::string(STRATA_GOLDEN_DIR) + "/generate/tiny_gqa"; }

// Runs `expr`, which must throw a StrataError whose message contains `needle`.
#define EXPECT_THAT_ERROR(expr, needle) \
  EXPECT_NE(test::error_of([&] { (void)(expr); }).find(needle), std::string::npos) << test::error_of([&] { (void)(expr); })

std::vector<std::vector<int32_t>> golden_prompts(const test::GoldenFile& g) {
  std::vector<std::vector<int32_t>> p;
  for (int i = 0; i < g.meta_int("n_prompts"); ++i) p.push_back(g.i32("prompt." + std::to_string(i)));
  return p;
}

// Blocks streamed from the host tier or from disk (prefetch 1) generate the ids of resident blocks.
TEST(Generation, StreamedBlocksGenerateTheSameIds) {
  const test::GoldenFile g = test::GoldenFile::load(test::golden_path("generate_tiny_gqa.bin"));
  const auto prompts = golden_prompts(g);
  GenerateOptions go;
  go.max_new_tokens = 12;
  std::vector<std::vector<int32_t>> want;
  for (FrozenTier tier : {FrozenTier::Device, FrozenTier::Host, FrozenTier::Disk}) {
    InferenceOptions io;
    io.blocks = tier;
    io.prefetch = 1;
    InferenceModel im(tiny_gqa_dir(), io);
    LlamaDecoder dec(im.model(), (int)prompts.size());
    std::vector<std::vector<int32_t>> ids;
    for (const auto& gen : generate_tokens(dec, prompts, go)) ids.push_back(gen.ids);
    if (tier == FrozenTier::Device) {
      want = ids;
    } else {
      EXPECT_EQ(ids, want) << im.placement();
      EXPECT_NE(im.placement().find(tier == FrozenTier::Host ? "host" : "disk"), std::string::npos) << im.placement();
    }
  }
}

// A seed reproduces sampled ids; a row's ids do not depend on the batch it is in; another seed differs.
TEST(Generation, SeededSamplingIsReproducibleAndPerRow) {
  const test::GoldenFile g = test::GoldenFile::load(test::golden_path("generate_tiny_gqa.bin"));
  const auto prompts = golden_prompts(g);
  InferenceModel im(tiny_gqa_dir(), {});
  GenerateOptions go;
  go.max_new_tokens = 16;
  go.sampling.temperature = 1.5f;
  go.sampling.top_k = 20;
  go.sampling.top_p = 0.95f;
  go.seed = 11;
  LlamaDecoder dec(im.model(), (int)prompts.size());
  const auto a = generate_tokens(dec, prompts, go);
  const auto b = generate_tokens(dec, prompts, go);
  LlamaDecoder one(im.model(), 1);
  const auto alone = generate_tokens(one, {prompts[0]}, go);
  go.seed = 12;
  const auto c = generate_tokens(dec, prompts, go);
  int differs = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    EXPECT_EQ(a[i].ids, b[i].ids) << "prompt " << i;
    differs += a[i].ids != c[i].ids;
  }
  EXPECT_EQ(a[0].ids, alone[0].ids);
  EXPECT_GT(differs, 0) << "another seed should draw other tokens";
  // Sampling at temperature 1.5 does not simply reproduce the greedy ids.
  EXPECT_NE(a[3].ids, g.i32("greedy.3"));
}

// A stop id ends its row (kept as the last id); the context's end stops a row; an empty or full prompt is refused.
TEST(Generation, StopIdsContextAndBadPrompts) {
  const test::GoldenFile g = test::GoldenFile::load(test::golden_path("generate_tiny_gqa.bin"));
  const auto prompts = golden_prompts(g);
  const std::vector<int32_t>& greedy = g.i32("greedy.2");
  InferenceModel im(tiny_gqa_dir(), {});
  GenerateOptions go;
  go.max_new_tokens = (int)greedy.size();
  go.stop_ids = {greedy[6]};
  const size_t first = std::find(greedy.begin(), greedy.end(), greedy[6]) - greedy.begin();
  LlamaDecoder dec(im.model(), 2);
  const auto out = generate_tokens(dec, {prompts[2], prompts[3]}, go);
  EXPECT_EQ(out[0].ids, std::vector<int32_t>(greedy.begin(), greedy.begin() + first + 1));
  EXPECT_EQ(out[0].reason, StopReason::StopId);

  LlamaDecoder small(im.model(), 1, /*capacity=*/20);
  go.stop_ids.clear();
  const auto ctx = generate_tokens(small, {prompts[3]}, go);  // 17 prompt tokens: 3 more fill the context
  EXPECT_EQ(ctx[0].reason, StopReason::Context);
  EXPECT_EQ(ctx[0].ids, std::vector<int32_t>(g.i32("greedy.3").begin(), g.i32("greedy.3").begin() + 4));
  EXPECT_THROW(generate_tokens(small, {std::vector<int32_t>{}}, go), UserError);
  EXPECT_THROW(generate_tokens(small, {std::vector<int32_t>(20, 3)}, go), UserError);
}

// ---- samples during training ------------------------------------------------------------------------------------

// Each logged sample is what `generate` gives from the checkpoint saved at that step: same ids, same text. Frozen
// blocks are streamed from the host tier, so the samples read them through the trainer's prefetcher.
TEST(TrainingSamples, LoggedSamplesEqualGenerationFromTheCheckpointOfTheirStep) {
  for (const char* precision : {"fp32", "bf16"}) {
    SCOPED_TRACE(precision);
    const fs::path dir = fs::temp_directory_path() / ("strata-samples-" + std::to_string(::getpid()) + precision);
    fs::remove_all(dir);
    const RunConfig cfg = RunConfig::parse(R"(
[model]
preset = "tiny"
[data]
train = "synthetic"
synthetic_documents = 200
seq_len = 48
[train]
steps = 6
micro_batch = 2
lr = 3e-3
eval_every = 0
sample_every = 3
sample_prompts = ["Once upon a time", "The dog", "A"]
sample_tokens = 12
[lisa]
layers = 1
interval = 2
[memory]
frozen_tier = "host"
[output]
checkpoint_every = 3
keep_checkpoints = 5
)", "samples.toml", {"output.dir=" + dir.string(), std::string("train.precision=") + precision});
    TrainOptions o;
    o.log = nullptr;
    train(cfg, o);
    std::ifstream in(dir / "metrics.jsonl");
    std::string line;
    int lines = 0;
    while (std::getline(in, line)) {
      const auto j = nlohmann::json::parse(line);
      if (!j.contains("samples")) continue;
      ++lines;
      const int step = j["step"];
      char name[32];
      std::snprintf(name, sizeof name, "step_%08d", step);
      InferenceModel im((dir / "checkpoints" / name).string(), {});
      ASSERT_NE(im.tokenizer(), nullptr);
      ASSERT_EQ(im.model().precision() == Precision::BF16, std::string(precision) == "bf16");
      std::vector<std::vector<int32_t>> prompts;
      for (const auto& s : j["samples"]) {
        std::vector<int32_t> ids = {im.tokenizer()->bos_id()};
        im.tokenizer()->encode(s["prompt"].get<std::string>(), ids);
        prompts.push_back(ids);
      }
      LlamaDecoder dec(im.model(), (int)prompts.size(), cfg.data.seq_len);
      GenerateOptions go;
      go.max_new_tokens = cfg.train.sample_tokens;
      go.stop_ids = {im.tokenizer()->eos_id()};
      const auto gens = generate_tokens(dec, prompts, go);
      for (size_t i = 0; i < gens.size(); ++i) {
        EXPECT_EQ(j["samples"][i]["ids"].get<std::vector<int32_t>>(), gens[i].ids) << "step " << step << " sample " << i;
        EXPECT_FALSE(gens[i].ids.empty());
      }
    }
    EXPECT_EQ(lines, 2);
    fs::remove_all(dir);
  }
}

// The keys are checked: prompts are required with sample_every, and a prompt must leave room within data.seq_len.
TEST(TrainingSamples, BadKeysAreRefusedWithTheirNames) {
  const std::string base = "[model]\npreset = \"tiny\"\n[data]\ntrain = \"synthetic\"\nseq_len = 16\n";
  EXPECT_THAT_ERROR(RunConfig::parse(base + "[train]\nsample_every = 5\n", "a.toml", {}),
                    "train.sample_prompts is empty but train.sample_every = 5 asks for samples");
  EXPECT_THAT_ERROR(RunConfig::parse(base + "[train]\nsample_prompts = [1]\n", "a.toml", {}),
                    "train.sample_prompts[0] expects a string");
  const RunConfig long_prompt = RunConfig::parse(
      base + "[train]\nsteps = 1\nsample_every = 1\nsample_prompts = [\"a prompt longer than sixteen bytes\"]\n",
      "a.toml", {"output.dir=" + (fs::temp_directory_path() / ("strata-samples-bad-" + std::to_string(::getpid()))).string()});
  TrainOptions o;
  o.log = nullptr;
  EXPECT_THAT_ERROR(train(long_prompt, o), "train.sample_prompts[0] is 35 tokens: no room to generate within "
                                          "data.seq_len = 16");
  fs::remove_all(fs::temp_directory_path() / ("strata-samples-bad-" + std::to_string(::getpid())));
}

}  // namespace
}  // namespace strata
