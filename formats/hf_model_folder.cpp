// Opening HF model folders (single file or sharded) and loading them into ParamStore blobs.
// Memory: one blob-sized staging buffer plus bounded read pieces (tensor_pieces.h); nothing of the files is mapped.
#include "formats/hf_model_folder.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/check.h"
#include "core/dtype_convert.h"
#include "formats/tensor_pieces.h"

namespace strata {

namespace fs = std::filesystem;

NonFinitePolicy parse_non_finite_policy(const std::string& s, const std::string& what) {
  if (s == "error") return NonFinitePolicy::Error;
  if (s == "warn") return NonFinitePolicy::Warn;
  if (s == "ignore") return NonFinitePolicy::Ignore;
  STRATA_USER_FAIL(what + ": '" + s + "' is not one of error, warn, ignore");
}

std::string hf_tensor_name(const ParamStore& store, BlobId blob, int index) {
  const std::string& local = store.layout_of(blob).tensors.at(index).name;
  if (store.ids().is_block(blob)) return "model.layers." + to_string(blob) + "." + local;
  return local;
}

static std::string read_text(const fs::path& p) {
  std::ifstream f(p);
  STRATA_USER_CHECK(f.good(), "cannot open " + p.string());
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

HfModelFolder HfModelFolder::open(const std::string& dir) {
  std::error_code ec;
  STRATA_USER_CHECK(fs::is_directory(dir, ec), "model folder '" + dir + "' does not exist or is not a folder");
  HfModelFolder folder;
  folder.dir_ = dir;
  folder.info_ = read_hf_config((fs::path(dir) / "config.json").string());
  const fs::path single = fs::path(dir) / "model.safetensors";
  const fs::path index = fs::path(dir) / "model.safetensors.index.json";
  std::vector<std::string> shard_names;
  if (fs::exists(index, ec)) {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(read_text(index));
    } catch (const nlohmann::json::parse_error& e) {
      STRATA_USER_FAIL(index.string() + ": not valid JSON (" + e.what() + ")");
    }
    STRATA_USER_CHECK(j.is_object() && j.contains("weight_map") && j["weight_map"].is_object(),
                      index.string() + ": expected an object with a \"weight_map\" object {tensor name: shard file}");
    std::set<std::string> seen;
    for (auto& [name, file] : j["weight_map"].items()) {
      STRATA_USER_CHECK(file.is_string(), index.string() + ": weight_map entry '" + name + "' must name a file");
      const std::string f = file.get<std::string>();
      STRATA_USER_CHECK(!f.empty() && f.find('/') == std::string::npos && f != "." && f != "..",
                        index.string() + ": weight_map entry '" + name + "' names '" + f +
                            "', which is not a plain file name in the model folder");
      if (seen.insert(f).second) shard_names.push_back(f);
    }
    STRATA_USER_CHECK(!shard_names.empty(), index.string() + ": weight_map is empty");
    for (const auto& f : shard_names) {
      const fs::path p = fs::path(dir) / f;
      STRATA_USER_CHECK(fs::exists(p, ec), index.string() + " lists shard " + f + ", which is missing from " + dir);
      folder.files_.push_back(SafetensorsFile::open(p.string()));
    }
    // Every tensor must sit in the shard the index names.
    for (auto& [name, file] : j["weight_map"].items()) {
      const size_t fi = std::find(shard_names.begin(), shard_names.end(), file.get<std::string>()) - shard_names.begin();
      const SafetensorsTensor* t = folder.files_[fi].find(name);
      STRATA_USER_CHECK(t, index.string() + " places tensor '" + name + "' in " + shard_names[fi] +
                               ", but that shard has no such tensor");
      folder.index_[name] = {fi, t};
    }
  } else if (fs::exists(single, ec)) {
    folder.files_.push_back(SafetensorsFile::open(single.string()));
    for (const auto& [name, t] : folder.files_[0].tensors()) folder.index_[name] = {0, &t};
  } else {
    STRATA_USER_FAIL("model folder '" + dir + "' has neither model.safetensors nor model.safetensors.index.json");
  }
  return folder;
}

HfModelFolder::Located HfModelFolder::find(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) return {};
  return {&files_[it->second.first], it->second.second};
}

static std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

// Tensors HF checkpoints may carry that the model does not use.
static bool ignorable(const std::string& name, bool tied) {
  if (name.find("rotary_emb.inv_freq") != std::string::npos) return true;
  return tied && name == "lm_head.weight";  // HF ties it to the embedding, ignoring the stored copy
}

void HfModelFolder::load_blob(ParamStore& params, BlobId blob, Backend& backend, const LoadOptions& opts) const {
  auto warn = opts.warn ? opts.warn : [](const std::string& m) { std::fprintf(stderr, "strata: warning: %s\n", m.c_str()); };
  const BlobLayout& layout = params.layout_of(blob);
  if (layout.bytes == 0) return;  // tied head
  params.allocate(blob);
  // Straight into the blob when the backend's memory is host memory; else through one blob of host staging.
  const bool direct = backend.caps().device_is_host;
  std::vector<unsigned char> staging(direct ? 0 : layout.bytes, 0);
  unsigned char* out = direct ? static_cast<unsigned char*>(params.blob(blob)) : staging.data();
  if (direct) std::memset(out, 0, layout.bytes);  // the padding between tensors, as the staging's
  for (int i = 0; i < (int)layout.tensors.size(); ++i) {
    const TensorSpec& spec = layout.tensors[i];
    const std::string name = hf_tensor_name(params, blob, i);
    const Located loc = find(name);
    STRATA_USER_CHECK(loc.file, "tensor '" + name + "' is missing from " + dir_ + " (the config.json describes " +
                                    config().describe() + ")");
    STRATA_USER_CHECK(loc.tensor->shape == spec.shape, loc.file->path() + ": tensor '" + name + "' has shape " +
                                                           shape_str(loc.tensor->shape) + " but config.json implies " +
                                                           shape_str(spec.shape));
    // Piece by piece: fp32 first (the non-finite check reads it), then the blob's storage dtype.
    unsigned char* dst = out + spec.offset;
    const size_t dst_size = dtype_size(spec.dtype);
    const bool check = opts.non_finite != NonFinitePolicy::Ignore;
    size_t bad = 0, first = 0;
    read_tensor_pieces(*loc.file, *loc.tensor, DType::F32, [&](const void* piece, size_t at, size_t n) {
      const float* v = static_cast<const float*>(piece);
      if (check)
        for (size_t k = 0; k < n; ++k)
          if (!std::isfinite(v[k])) {
            if (!bad) first = at + k;
            ++bad;
          }
      convert_from_f32(dst + at * dst_size, v, spec.dtype, n);
    });
    if (bad) {
      const std::string msg = loc.file->path() + ": tensor '" + name + "' has " + std::to_string(bad) +
                              " NaN/Inf value(s), the first at element " + std::to_string(first);
      if (opts.non_finite == NonFinitePolicy::Error)
        STRATA_USER_FAIL(msg + " (pass --non-finite warn to load it anyway)");
      warn(msg);
    }
  }
  if (!direct) backend.copy(params.blob(blob), staging.data(), layout.bytes);
}

void HfModelFolder::load_into(ParamStore& params, Backend& backend, const LoadOptions& opts) const {
  std::set<std::string> used;
  for (BlobId blob : params.ids().all()) {
    load_blob(params, blob, backend, opts);
    const BlobLayout& layout = params.layout_of(blob);
    for (int i = 0; i < (int)layout.tensors.size(); ++i) used.insert(hf_tensor_name(params, blob, i));
  }
  std::vector<std::string> unknown;
  for (const auto& [name, loc] : index_)
    if (!used.count(name) && !ignorable(name, config().tie_embeddings)) unknown.push_back(name);
  if (!unknown.empty()) {
    std::string list;
    for (size_t i = 0; i < unknown.size() && i < 3; ++i) list += (i ? ", " : "") + unknown[i];
    STRATA_USER_FAIL(dir_ + " holds " + std::to_string(unknown.size()) + " tensor(s) a model with this config.json (" +
                     config().describe() + ") does not have, e.g. " + list +
                     "; check num_hidden_layers and "
                     "tie_word_embeddings");
  }
}

}  // namespace strata
