// config.json reader and writer (nlohmann-json). The reader accepts the keys LLaMA and Mistral checkpoints use,
// transformers 5's rope_parameters included, and rejects settings that would silently change the math.
#include "formats/hf_config.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/check.h"
#include "model/presets.h"

namespace strata {

using json = nlohmann::json;

namespace {

class KeyReader {
 public:
  KeyReader(const json& j, const std::string& origin) : j_(j), origin_(origin) {}

  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    STRATA_USER_FAIL(origin_ + ": key '" + key + "' " + what);
  }
  const json* get(const std::string& key) const {
    auto it = j_.find(key);
    return it == j_.end() || it->is_null() ? nullptr : &*it;
  }
  int integer(const std::string& key, const int* fallback = nullptr) const {
    const json* v = get(key);
    if (!v) {
      if (fallback) return *fallback;
      fail(key, "is missing; a LLaMA config.json needs it");
    }
    if (!v->is_number_integer()) fail(key, "must be an integer, got " + std::string(v->type_name()) + " " + v->dump());
    const int64_t x = v->get<int64_t>();
    if (x <= 0 || x > (int64_t)1 << 30) fail(key, "must be in [1, 2^30], got " + std::to_string(x));
    return (int)x;
  }
  double number(const std::string& key, double fallback) const {
    const json* v = get(key);
    if (!v) return fallback;
    if (!v->is_number()) fail(key, "must be a number, got " + std::string(v->type_name()) + " " + v->dump());
    return v->get<double>();
  }
  bool boolean(const std::string& key, bool fallback) const {
    const json* v = get(key);
    if (!v) return fallback;
    if (!v->is_boolean()) fail(key, "must be true or false, got " + v->dump());
    return v->get<bool>();
  }
  // Token ids may be an int, a list (first is used) or null.
  int token_id(const std::string& key, int fallback) const {
    const json* v = get(key);
    if (v && v->is_array() && !v->empty()) v = &(*v)[0];
    if (!v || !v->is_number_integer()) return fallback;
    return v->get<int>();
  }

 private:
  const json& j_;
  const std::string& origin_;
};

}  // namespace

ModelInfo parse_hf_config(const std::string& text, const std::string& origin) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    STRATA_USER_FAIL(origin + ": not valid JSON (" + e.what() + ")");
  }
  STRATA_USER_CHECK(j.is_object(), origin + ": config.json must hold a JSON object");
  KeyReader r(j, origin);

  if (const json* mt = r.get("model_type")) {
    const std::string t = mt->is_string() ? mt->get<std::string>() : mt->dump();
    if (t != "llama" && t != "mistral")
      r.fail("model_type", "is '" + t + "'; Strata supports LLaMA-family decoders (model_type llama or mistral)");
  }
  if (const json* act = r.get("hidden_act")) {
    if (!act->is_string() || act->get<std::string>() != "silu")
      r.fail("hidden_act", "is " + act->dump() + "; only \"silu\" (SwiGLU) is supported");
  }
  if (r.boolean("attention_bias", false)) r.fail("attention_bias", "is true; attention projections with bias are not supported");
  if (r.boolean("mlp_bias", false)) r.fail("mlp_bias", "is true; MLP projections with bias are not supported");
  if (const json* sw = r.get("sliding_window"))
    r.fail("sliding_window", "is " + sw->dump() + "; sliding-window attention is not supported (set it to null only "
                             "if the model was trained without it)");
  if (const json* rs = r.get("rope_scaling")) {
    std::string type = rs->dump();
    if (rs->is_object()) {
      if (rs->contains("rope_type")) type = (*rs)["rope_type"].dump();
      else if (rs->contains("type")) type = (*rs)["type"].dump();
    }
    if (type != "\"default\"") r.fail("rope_scaling", "has type " + type + "; RoPE scaling is not supported");
  }

  ModelInfo info;
  ModelConfig& c = info.config;
  c.dim = r.integer("hidden_size");
  c.n_layers = r.integer("num_hidden_layers");
  c.n_heads = r.integer("num_attention_heads");
  c.n_kv_heads = r.integer("num_key_value_heads", &c.n_heads);
  c.ffn_dim = r.integer("intermediate_size");
  c.vocab = r.integer("vocab_size");
  const int default_max = 2048;
  c.max_seq_len = r.integer("max_position_embeddings", &default_max);
  double theta = r.number("rope_theta", 10000.0);
  if (const json* rp = r.get("rope_parameters")) {  // transformers >= 5
    if (!rp->is_object()) r.fail("rope_parameters", "must be an object, got " + rp->dump());
    const std::string type = rp->value("rope_type", std::string("default"));
    if (type != "default") r.fail("rope_parameters.rope_type", "is \"" + type + "\"; RoPE scaling is not supported");
    if (rp->contains("rope_theta")) {
      if (!(*rp)["rope_theta"].is_number()) r.fail("rope_parameters.rope_theta", "must be a number");
      theta = (*rp)["rope_theta"].get<double>();
    }
  }
  c.rope_theta = (float)theta;
  c.norm_eps = (float)r.number("rms_norm_eps", 1e-6);
  c.tie_embeddings = r.boolean("tie_word_embeddings", false);
  if (const json* hd = r.get("head_dim")) {
    if (!hd->is_number_integer() || hd->get<int64_t>() != c.dim / c.n_heads)
      r.fail("head_dim", "is " + hd->dump() + " but hidden_size / num_attention_heads = " +
                             std::to_string(c.dim / c.n_heads) + "; a separate head_dim is not supported");
  }
  info.initializer_range = (float)r.number("initializer_range", 0.02);
  if (!(info.initializer_range > 0.0f && info.initializer_range < 10.0f))
    r.fail("initializer_range", "must be in (0, 10), got " + std::to_string(info.initializer_range));
  info.bos_token_id = r.token_id("bos_token_id", 1);
  info.eos_token_id = r.token_id("eos_token_id", 2);
  try {
    c.validate();
  } catch (const StrataError& e) {
    STRATA_USER_FAIL(origin + ": " + e.what());
  }
  return info;
}

ModelInfo read_hf_config(const std::string& path) {
  std::ifstream f(path);
  STRATA_USER_CHECK(f.good(), "cannot open " + path + ": a model folder needs a config.json");
  std::stringstream ss;
  ss << f.rdbuf();
  return parse_hf_config(ss.str(), path);
}

// The double with the shortest decimal form that rounds to f, so 1e-5f is written as 1e-05, not 9.99999974e-06.
static double short_double(float f) {
  char buf[32];
  for (int prec = 1; prec <= 9; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, (double)f);
    const double d = std::strtod(buf, nullptr);
    if ((float)d == f) return d;
  }
  return (double)f;
}

std::string hf_config_json(const ModelInfo& info, DType dtype) {
  const ModelConfig& c = info.config;
  json j;
  j["architectures"] = {"LlamaForCausalLM"};
  j["model_type"] = "llama";
  j["hidden_size"] = c.dim;
  j["intermediate_size"] = c.ffn_dim;
  j["num_hidden_layers"] = c.n_layers;
  j["num_attention_heads"] = c.n_heads;
  j["num_key_value_heads"] = c.n_kv_heads;
  j["head_dim"] = c.head_dim();
  j["vocab_size"] = c.vocab;
  j["max_position_embeddings"] = c.max_seq_len;
  j["rms_norm_eps"] = short_double(c.norm_eps);
  j["rope_theta"] = short_double(c.rope_theta);
  j["rope_scaling"] = nullptr;
  j["tie_word_embeddings"] = c.tie_embeddings;
  j["hidden_act"] = "silu";
  j["attention_bias"] = false;
  j["mlp_bias"] = false;
  j["initializer_range"] = short_double(info.initializer_range);
  j["bos_token_id"] = info.bos_token_id;
  j["eos_token_id"] = info.eos_token_id;
  j["torch_dtype"] = dtype == DType::F32 ? "float32" : dtype == DType::BF16 ? "bfloat16" : "float16";
  return j.dump(2) + "\n";
}

ModelInfo resolve_model_config(const std::string& s) {
  if (const ModelPreset* p = find_preset(s)) return p->info;
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(s, ec)) return read_hf_config((fs::path(s) / "config.json").string());
  if (fs::exists(s, ec)) return read_hf_config(s);
  std::string names;
  for (const auto& p : model_presets()) names += (names.empty() ? "" : ", ") + p.name;
  STRATA_USER_FAIL("'" + s + "' is neither a model preset nor a config.json file or model folder; presets: " + names);
}

}  // namespace strata
