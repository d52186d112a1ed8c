// HF model folders end to end: config.json parsing, init-model -> export -> load round trips (single file, sharded,
// BF16), folder-level bad input, atomic writes, and logits parity with transformers (stories260K, exported models).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "core/check.h"
#include "tests/support/temp_dir.h"
#include "core/dtype_convert.h"
#include "formats/hf_model_folder.h"
#include "formats/hf_export.h"
#include "model/llama_model.h"
#include "model/param_init.h"
#include "model/presets.h"
#include "tests/support/golden_file.h"
#include "tests/support/tensor_compare.h"

namespace strata {
namespace {

namespace fs = std::filesystem;
using test::error_of;

#define EXPECT_ERROR_HAS(stmt, needle)                                                    \
  do {                                                                                    \
    const std::string err_ = error_of([&] { stmt; });                                     \
    EXPECT_NE(err_.find(needle), std::string::npos) << "error was: '" << err_ << "'"; \
  } while (0)

ModelInfo tiny_tied() { return find_preset("tiny-tied")->info; }

// All parameter bytes of a store, blob by blob.
std::vector<unsigned char> all_bytes(const ParamStore& p, Backend& be) {
  std::vector<unsigned char> out;
  for (BlobId b : p.ids().all()) {
    if (!p.has(b)) continue;
    std::vector<unsigned char> h(p.blob_bytes(b));
    be.copy(h.data(), p.blob(b), h.size());
    out.insert(out.end(), h.begin(), h.end());
  }
  return out;
}

void write_init_model(const std::string& dir, const ModelInfo& info, uint64_t seed, ExportOptions ex = {}) {
  const ModelLayout layout = make_model_layout(info.config, DType::F32);
  write_hf_model(dir, info, tensor_sources_from_init(layout, seed, info.initializer_range, ex.dtype), ex);
}

// ---- config.json ----------------------------------------------------------------------------------------------

const char* kGoodConfig = R"({"model_type": "llama", "hidden_size": 64, "intermediate_size": 172,
  "num_hidden_layers": 5, "num_attention_heads": 8, "num_key_value_heads": 4, "vocab_size": 512,
  "max_position_embeddings": 512, "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "tie_word_embeddings": true,
  "hidden_act": "silu", "rope_scaling": null})";

// kGoodConfig with one key set (or replaced) to a JSON value.
std::string with(const std::string& key, const std::string& value) {
  nlohmann::json j = nlohmann::json::parse(kGoodConfig);
  j[key] = nlohmann::json::parse(value);
  return j.dump();
}

std::string without(const std::string& key) {
  nlohmann::json j = nlohmann::json::parse(kGoodConfig);
  j.erase(key);
  return j.dump();
}

TEST(HfConfig, ParsesLlamaConfig) {
  const ModelInfo i = parse_hf_config(kGoodConfig, "config.json");
  EXPECT_EQ(i.config.dim, 64);
  EXPECT_EQ(i.config.n_kv_heads, 4);
  EXPECT_EQ(i.config.ffn_dim, 172);
  EXPECT_TRUE(i.config.tie_embeddings);
  EXPECT_FLOAT_EQ(i.config.norm_eps, 1e-5f);
  EXPECT_FLOAT_EQ(i.initializer_range, 0.02f);
  // transformers 5 style rope_parameters
  const ModelInfo j = parse_hf_config(with("rope_parameters", R"({"rope_type": "default", "rope_theta": 500000.0})"),
                                        "c.json");
  EXPECT_FLOAT_EQ(j.config.rope_theta, 500000.0f);
}

TEST(HfConfig, UnsupportedFeaturesAreErrorsNamingTheKey) {
  EXPECT_ERROR_HAS(parse_hf_config(with("rope_scaling", R"({"rope_type": "llama3", "factor": 8.0})"), "c.json"),
                   "'rope_scaling'");
  EXPECT_ERROR_HAS(parse_hf_config(with("attention_bias", "true"), "c.json"), "'attention_bias'");
  EXPECT_ERROR_HAS(parse_hf_config(with("mlp_bias", "true"), "c.json"), "'mlp_bias'");
  EXPECT_ERROR_HAS(parse_hf_config(with("sliding_window", "4096"), "c.json"), "'sliding_window'");
  EXPECT_ERROR_HAS(parse_hf_config(with("hidden_act", R"("gelu")"), "c.json"), "'hidden_act'");
  EXPECT_ERROR_HAS(parse_hf_config(with("head_dim", "16"), "c.json"), "'head_dim'");
  EXPECT_ERROR_HAS(parse_hf_config(with("rope_parameters", R"({"rope_type": "yarn"})"), "c.json"), "rope_type");
  EXPECT_ERROR_HAS(parse_hf_config(with("model_type", R"("qwen2")"), "c.json"), "'model_type'");
}

TEST(HfConfig, TypeAndValueErrorsNameKeyAndFile) {
  EXPECT_ERROR_HAS(parse_hf_config(with("hidden_size", R"("64")"), "/m/config.json"),
                   "/m/config.json: key 'hidden_size' must be an integer");
  EXPECT_ERROR_HAS(parse_hf_config(with("tie_word_embeddings", "1"), "c.json"), "'tie_word_embeddings' must be true or false");
  EXPECT_ERROR_HAS(parse_hf_config(with("num_hidden_layers", "-2"), "c.json"), "'num_hidden_layers' must be in");
  EXPECT_ERROR_HAS(parse_hf_config(without("vocab_size"), "c.json"), "'vocab_size' is missing");
  EXPECT_ERROR_HAS(parse_hf_config(with("num_key_value_heads", "3"), "c.json"), "n_kv_heads");
  EXPECT_ERROR_HAS(parse_hf_config("{not json", "c.json"), "not valid JSON");
  EXPECT_ERROR_HAS(parse_hf_config("[1, 2]", "c.json"), "must hold a JSON object");
}

TEST(HfConfig, WrittenConfigReadsBackAndPresetsResolve) {
  for (const auto& p : model_presets()) {
    const ModelInfo back = parse_hf_config(hf_config_json(p.info, DType::BF16), p.name);
    EXPECT_EQ(back.config.describe(), p.info.config.describe()) << p.name;
  }
  EXPECT_EQ(resolve_model_config("llama2-70b").config.n_kv_heads, 8);
  EXPECT_EQ(resolve_model_config("llama3-8b").config.vocab, 128256);
  EXPECT_ERROR_HAS(resolve_model_config("llama9-1t"), "presets: tiny");
}

// ---- round trips ----------------------------------------------------------------------------------------------

TEST(HfModelFiles, InitExportLoadIsBitwiseIdentical) {
  test::TempDir tmp;
  const ModelInfo info = tiny_tied();
  write_init_model(tmp / "init", info, 7);
  CpuBackend be;
  const ModelLayout layout = make_model_layout(info.config, DType::F32);
  ParamStore expected(be, layout, MemoryKind::Host, MemoryCategory::Weights);
  init_params_normal(expected, be, 7, info.initializer_range);

  const HfModelFolder init = HfModelFolder::open(tmp / "init");
  EXPECT_EQ(init.num_files(), 1u);
  ParamStore loaded(be, layout, MemoryKind::Host, MemoryCategory::Weights);
  init.load_into(loaded, be);
  EXPECT_EQ(all_bytes(loaded, be), all_bytes(expected, be)) << "init-model output must load to the seeded init";

  // export (sharded) -> load
  ExportOptions ex;
  ex.max_shard_bytes = 200000;
  write_hf_model(tmp / "sharded", init.info(), tensor_sources_from_params(loaded, be, DType::F32), ex);
  EXPECT_TRUE(fs::exists(tmp / "sharded/model.safetensors.index.json"));
  const HfModelFolder sharded = HfModelFolder::open(tmp / "sharded");
  EXPECT_GT(sharded.num_files(), 2u);
  ParamStore again(be, layout, MemoryKind::Host, MemoryCategory::Weights);
  sharded.load_into(again, be);
  EXPECT_EQ(all_bytes(again, be), all_bytes(expected, be));
  EXPECT_EQ(sharded.config().describe(), info.config.describe());
}

// Progress reporting wraps every tensor source (issue 15): the files hold the same bytes as without it, sharded or not.
TEST(HfModelFiles, ProgressReportingWritesTheSameFiles) {
  test::TempDir tmp;
  const ModelInfo info = tiny_tied();
  auto contents = [](const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), {});
  };
  for (const size_t shard : {size_t{5000000000}, size_t{200000}}) {
    ExportOptions plain, reported;
    plain.max_shard_bytes = reported.max_shard_bytes = shard;
    plain.dtype = reported.dtype = DType::BF16;
    std::vector<std::string> lines;
    reported.progress = [&lines](const std::string& l) { lines.push_back(l); };
    const std::string a = tmp / ("plain" + std::to_string(shard)), b = tmp / ("reported" + std::to_string(shard));
    write_init_model(a, info, 9, plain);
    write_init_model(b, info, 9, reported);
    int files = 0;
    for (const auto& e : fs::directory_iterator(a)) {
      EXPECT_EQ(contents(e.path()), contents(fs::path(b) / e.path().filename())) << e.path().filename();
      ++files;
    }
    EXPECT_GE(files, shard == 200000 ? 4 : 2);
    for (const std::string& l : lines) EXPECT_EQ(l.rfind("writing tensors: ", 0), 0u) << l;
  }
}

TEST(HfModelFiles, Bf16ExportLoadsAsRoundedValues) {
  test::TempDir tmp;
  const ModelInfo info = tiny_tied();
  ExportOptions ex;
  ex.dtype = DType::BF16;
  write_init_model(tmp / "bf16", info, 3, ex);
  CpuBackend be;
  const ModelLayout layout = make_model_layout(info.config, DType::F32);
  ParamStore expected(be, layout, MemoryKind::Host, MemoryCategory::Weights), loaded(be, layout, MemoryKind::Host,
                                                                                      MemoryCategory::Weights);
  init_params_normal(expected, be, 3, info.initializer_range);
  HfModelFolder::open(tmp / "bf16").load_into(loaded, be);
  const float* a = loaded.f32(loaded.ids().block(2), kWGate);
  const float* e = expected.f32(expected.ids().block(2), kWGate);
  const size_t n = layout.block.tensors[kWGate].numel();
  size_t differ = 0;
  for (size_t i = 0; i < n; ++i) {
    ASSERT_EQ(a[i], bf16_to_f32(f32_to_bf16(e[i]))) << i;
    differ += a[i] != e[i];
  }
  EXPECT_GT(differ, n / 2) << "BF16 storage must actually round";
}

// ---- bad input at the folder level ----------------------------------------------------------------------------

// Writes a folder whose tensors are the tiny-tied init, edited by `edit`.
void write_edited(const std::string& dir, const std::function<void(std::vector<TensorSource>&)>& edit) {
  const ModelInfo info = tiny_tied();
  static const ModelLayout layout = make_model_layout(info.config, DType::F32);
  auto tensors = tensor_sources_from_init(layout, 1, 0.02f, DType::F32);
  edit(tensors);
  write_hf_model(dir, info, tensors, {});
}

void load(const std::string& dir, LoadOptions lo = {}) {
  const HfModelFolder ck = HfModelFolder::open(dir);
  CpuBackend be;
  const ModelLayout layout = make_model_layout(ck.config(), DType::F32);
  ParamStore p(be, layout, MemoryKind::Host, MemoryCategory::Weights);
  ck.load_into(p, be, lo);
}

TEST(HfModelFiles, FolderErrorsNameTensorAndFile) {
  test::TempDir tmp;
  write_edited(tmp / "missing", [](auto& t) { t.erase(t.begin() + 3); });
  EXPECT_ERROR_HAS(load(tmp / "missing"), "tensor 'model.layers.0.self_attn.v_proj.weight' is missing");

  write_edited(tmp / "shape", [](auto& t) {
    for (auto& s : t)
      if (s.name == "model.layers.1.mlp.up_proj.weight") {
        s.shape = {64, 172};
        s.fill_range = [](void* d, size_t, size_t n) { std::memset(d, 0, n); };
      }
  });
  EXPECT_ERROR_HAS(load(tmp / "shape"), "'model.layers.1.mlp.up_proj.weight' has shape [64, 172] but config.json implies [172, 64]");

  write_edited(tmp / "extra", [](auto& t) {
    t.push_back({"model.layers.7.mlp.up_proj.weight", DType::F32, {2}, [](void* d) { std::memset(d, 0, 8); }});
  });
  EXPECT_ERROR_HAS(load(tmp / "extra"), "model.layers.7.mlp.up_proj.weight");

  write_edited(tmp / "nan", [](auto& t) {
    for (auto& s : t)
      if (s.name == "model.norm.weight") {
        auto inner = s.fill_range;
        s.fill_range = [inner](void* d, size_t offset, size_t n) {
          inner(d, offset, n);
          if (offset <= 5 * sizeof(float) && 5 * sizeof(float) < offset + n)
            static_cast<float*>(d)[5 - offset / sizeof(float)] = NAN;
        };
      }
  });
  EXPECT_ERROR_HAS(load(tmp / "nan"), "tensor 'model.norm.weight' has 1 NaN/Inf value(s), the first at element 5");
  std::vector<std::string> warnings;
  LoadOptions warn;
  warn.non_finite = NonFinitePolicy::Warn;
  warn.warn = [&](const std::string& m) { warnings.push_back(m); };
  EXPECT_EQ(error_of([&] { load(tmp / "nan", warn); }), "");
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("model.norm.weight"), std::string::npos);

  EXPECT_ERROR_HAS(load(tmp / "nowhere"), "does not exist");
  fs::create_directory(tmp / "empty");
  EXPECT_ERROR_HAS(load(tmp / "empty"), "config.json");
  std::ofstream(tmp / "empty/config.json") << kGoodConfig;
  EXPECT_ERROR_HAS(load(tmp / "empty"), "neither model.safetensors nor model.safetensors.index.json");
}

TEST(HfModelFiles, ShardIndexErrors) {
  test::TempDir tmp;
  const ModelInfo info = tiny_tied();
  ExportOptions ex;
  ex.max_shard_bytes = 300000;
  write_init_model(tmp / "m", info, 1, ex);
  const std::string index = tmp / "m/model.safetensors.index.json";
  std::ifstream in(index);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  const std::string good = text;
  const std::string first_shard = "model-00001-of-";
  // A shard the index names is missing.
  std::string shard_name = text.substr(text.find(first_shard), 32);
  fs::rename(tmp / ("m/" + shard_name), tmp / "m/moved");
  EXPECT_ERROR_HAS(load(tmp / "m"), "lists shard " + shard_name + ", which is missing");
  fs::rename(tmp / "m/moved", tmp / ("m/" + shard_name));
  // Path traversal in the index.
  text.replace(text.find(first_shard), 0, "../");
  std::ofstream(index) << text;
  EXPECT_ERROR_HAS(load(tmp / "m"), "not a plain file name");
  std::ofstream(index) << "{\"metadata\": {}}";
  EXPECT_ERROR_HAS(load(tmp / "m"), "weight_map");
  std::ofstream(index) << good;
  EXPECT_EQ(error_of([&] { load(tmp / "m"); }), "");
}

TEST(HfModelFiles, WritesAreAtomic) {
  test::TempDir tmp;
  const ModelInfo info = tiny_tied();
  write_init_model(tmp / "out", info, 1);
  const auto before = fs::file_size(tmp / "out/model.safetensors");
  EXPECT_ERROR_HAS(write_init_model(tmp / "out", info, 2), "already exists");
  // A failure in the middle of writing leaves the existing folder untouched and no temp folder behind.
  const ModelLayout layout = make_model_layout(info.config, DType::F32);
  auto tensors = tensor_sources_from_init(layout, 2, 0.02f, DType::F32);
  tensors[10].fill_range = [](void*, size_t, size_t) { STRATA_FAIL("simulated I/O failure"); };
  ExportOptions ex;
  ex.overwrite = true;
  EXPECT_ERROR_HAS(write_hf_model(tmp / "out", info, tensors, ex), "simulated I/O failure");
  EXPECT_EQ(fs::file_size(tmp / "out/model.safetensors"), before);
  int entries = 0;
  for (const auto& e : fs::directory_iterator(tmp / "")) entries += (e.path().filename() != "out");
  EXPECT_EQ(entries, 0) << "temp folders must be removed";
  // With overwrite, a complete write replaces the folder.
  write_init_model(tmp / "out", info, 5, ex);
  CpuBackend be;
  ParamStore a(be, layout, MemoryKind::Host, MemoryCategory::Weights), b(be, layout, MemoryKind::Host,
                                                                         MemoryCategory::Weights);
  HfModelFolder::open(tmp / "out").load_into(a, be);
  init_params_normal(b, be, 5, info.initializer_range);
  EXPECT_EQ(all_bytes(a, be), all_bytes(b, be));
}

// ---- parity with transformers ---------------------------------------------------------------------------------

// Logits of `ck`'s model (or of params set by `fill`) on the golden's ids, compared with transformers' logits.
void expect_logits_match(const HfModelFolder& ck, const test::GoldenFile& g) {
  CpuBackend be;
  LlamaModel m(be, ck.config(), {});
  ck.load_into(m.params(), be);
  const auto& ids = g.i32("input_ids");
  const int B = (int)g.meta_int("B"), T = (int)g.meta_int("T");
  std::vector<int32_t> targets(ids.size(), kIgnoreIndex);
  m.forward(ids.data(), targets.data(), B, T);
  std::vector<float> logits((size_t)B * T * ck.config().vocab);
  m.copy_logits(logits.data());
  const auto& ref = g.f32("logits");
  ASSERT_EQ(ref.size(), logits.size());
  const test::ErrorStats e = test::compare(logits.data(), ref.data(), ref.size());
  std::printf("  %s: logits %s\n", g.path().c_str(), e.describe().c_str());
  EXPECT_LE(e.rel_l2, 1e-5) << e.describe();
  EXPECT_LE(e.max_abs / e.max_ref, 1e-5) << e.describe();
}

TEST(HfParity, Stories260kMatchesTransformers) {
  const std::string dir = std::string(STRATA_SHARED_DATA_DIR) + "/stories260K";
  if (!fs::exists(dir + "/model.safetensors")) GTEST_SKIP() << dir << " is absent (it ships next to the checkout)";
  const HfModelFolder ck = HfModelFolder::open(dir);
  EXPECT_TRUE(ck.config().tie_embeddings);
  EXPECT_EQ(ck.config().n_kv_heads, 4);
  expect_logits_match(ck, test::GoldenFile::load(test::golden_path("stories260k_logits.bin")));
}

TEST(HfParity, ExportedFoldersLoadInTransformersWithTheSameLogits) {
  // The goldens hold transformers' logits on folders made by `strata init-model --config tiny-tied --seed 7` and
  // `strata export` (see tools/make_model_file_goldens.py); rebuild the same folders here and compare.
  test::TempDir tmp;
  const ModelInfo info = tiny_tied();
  write_init_model(tmp / "init", info, 7);
  CpuBackend be;
  const HfModelFolder init = HfModelFolder::open(tmp / "init");
  const ModelLayout layout = make_model_layout(info.config, DType::F32);
  ParamStore p(be, layout, MemoryKind::Host, MemoryCategory::Weights);
  init.load_into(p, be);
  struct Case {
    const char* golden;
    DType dtype;
    size_t shard;
  };
  for (const Case c : {Case{"export_f32_logits.bin", DType::F32, 1000000}, Case{"export_bf16_logits.bin", DType::BF16,
                                                                            5000000000ull}}) {
    const test::GoldenFile g = test::GoldenFile::load(test::golden_path(c.golden));
    ExportOptions ex;
    ex.dtype = c.dtype;
    ex.max_shard_bytes = c.shard;
    const std::string out = tmp / c.golden;
    write_hf_model(out, init.info(), tensor_sources_from_params(p, be, c.dtype), ex);
    std::string files;
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(out)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    for (const auto& n : names) files += (files.empty() ? "" : ",") + n;
    EXPECT_EQ(files, g.meta("files")) << "the export must produce the files transformers loaded";
    expect_logits_match(HfModelFolder::open(out), g);
  }
}

}  // namespace
}  // namespace strata
