// make_bpe_tokenizer: reads an HF tokenizer.json into a BpeTokenizer; what it does not support fails naming the JSON
// key and value. post_processor and decoder are not read: encode adds no BOS/EOS, decode is ByteLevel's.
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace strata {

namespace {

using nlohmann::json;

struct Reader {
  std::string path;

  [[noreturn]] void fail(const std::string& msg) const { STRATA_USER_FAIL(path + ": " + msg); }
  [[noreturn]] void unsupported(const std::string& key, const json& value, const std::string& what) const {
    fail(key + " " + value.dump() + " is not supported (" + what + "); use a byte-level BPE tokenizer.json "
         "(GPT-2 / LLaMA-3 / Qwen2 style)");
  }
  bool get_bool(const json& obj, const char* key, bool dflt, const std::string& where) const {
    if (!obj.contains(key) || obj[key].is_null()) return dflt;
    if (!obj[key].is_boolean()) fail(where + "." + key + " is " + obj[key].dump() + ", not true/false");
    return obj[key].get<bool>();
  }
  std::string type_of(const json& obj, const std::string& where) const {
    if (!obj.is_object() || !obj.contains("type") || !obj["type"].is_string())
      fail(where + " has no \"type\" string: " + obj.dump().substr(0, 200));
    return obj["type"].get<std::string>();
  }

  // normalizer: returns whether NFC is applied.
  bool normalizer(const json& n, const std::string& where) const {
    if (n.is_null()) return false;
    const std::string type = type_of(n, where);
    if (type == "NFC") return true;
    if (type == "Sequence") {
      bool nfc = false;
      const json& list = n.contains("normalizers") ? n["normalizers"] : json::array();
      for (size_t i = 0; i < list.size(); ++i)
        nfc = normalizer(list[i], where + ".normalizers[" + std::to_string(i) + "]") || nfc;
      return nfc;
    }
    unsupported(where + ".type", n["type"], "only null or NFC normalizers are implemented");
  }

  void pre_tokenizer(const json& p, const std::string& where, PreTokenizer& pre) const {
    const std::string type = type_of(p, where);
    if (type == "ByteLevel") {
      pre.add_byte_level(get_bool(p, "add_prefix_space", true, where), get_bool(p, "use_regex", true, where));
    } else if (type == "Split") {
      pre.add_split(split_pattern(p, where), split_behavior(p, where), get_bool(p, "invert", false, where));
    } else if (type == "Sequence") {
      if (!p.contains("pretokenizers") || !p["pretokenizers"].is_array())
        fail(where + " (Sequence) has no \"pretokenizers\" array");
      const json& list = p["pretokenizers"];
      for (size_t i = 0; i < list.size(); ++i)
        pre_tokenizer(list[i], where + ".pretokenizers[" + std::to_string(i) + "]", pre);
    } else {
      unsupported(where + ".type", p["type"], "only ByteLevel, Split and Sequence pre-tokenizers are implemented");
    }
  }

  UnicodeRegex split_pattern(const json& p, const std::string& where) const {
    const json& pat = p.contains("pattern") ? p["pattern"] : json();
    if (pat.is_object() && pat.contains("Regex") && pat["Regex"].is_string())
      return UnicodeRegex(pat["Regex"].get<std::string>(), UnicodeRegex::Syntax::Regex,
                          path + ": " + where + ".pattern.Regex");
    if (pat.is_object() && pat.contains("String") && pat["String"].is_string())
      return UnicodeRegex(pat["String"].get<std::string>(), UnicodeRegex::Syntax::Literal,
                          path + ": " + where + ".pattern.String");
    fail(where + ".pattern is " + pat.dump() + ", not {\"Regex\": ...} or {\"String\": ...}");
  }

  SplitBehavior split_behavior(const json& p, const std::string& where) const {
    const json& b = p.contains("behavior") ? p["behavior"] : json();
    const std::string s = b.is_string() ? b.get<std::string>() : "";
    if (s == "Isolated") return SplitBehavior::Isolated;
    if (s == "Removed") return SplitBehavior::Removed;
    if (s == "MergedWithPrevious") return SplitBehavior::MergedWithPrevious;
    if (s == "MergedWithNext") return SplitBehavior::MergedWithNext;
    if (s == "Contiguous") return SplitBehavior::Contiguous;
    unsupported(where + ".behavior", b, "expected Isolated, Removed, MergedWithPrevious, MergedWithNext or Contiguous");
  }

  BpeModel model(const json& m) const {
    if (!m.is_object()) fail("model is " + m.dump().substr(0, 100) + ", not an object");
    if (m.contains("type") && !(m["type"].is_string() && m["type"] == "BPE"))
      unsupported("model.type", m["type"], "only BPE models are implemented");
    if (m.contains("dropout") && !m["dropout"].is_null() && !(m["dropout"].is_number() && m["dropout"] == 0))
      unsupported("model.dropout", m["dropout"], "BPE dropout makes encoding random; set it to null");
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
      if (m.contains(key) && !m[key].is_null() && !(m[key].is_string() && m[key].get<std::string>().empty()))
        unsupported(std::string("model.") + key, m[key], "byte-level BPE does not use it");
    if (!m.contains("vocab") || !m["vocab"].is_object()) fail("model.vocab is missing or not an object");
    TokenVocab vocab;
    for (const auto& [token, id] : m["vocab"].items()) {
      if (!id.is_number_integer()) fail("model.vocab[\"" + token + "\"] is " + id.dump() + ", not an integer id");
      vocab[token] = id.get<int32_t>();
    }
    std::vector<std::pair<std::string, std::string>> merges;
    const json& ml = m.contains("merges") ? m["merges"] : json::array();
    if (!ml.is_array()) fail("model.merges is not an array");
    merges.reserve(ml.size());
    for (size_t i = 0; i < ml.size(); ++i) {
      const json& e = ml[i];
      if (e.is_string()) {
        const std::string s = e.get<std::string>();
        const size_t sp = s.find(' ');
        if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
          fail("model.merges[" + std::to_string(i) + "] is " + e.dump() + ", not \"left right\"");
        merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
      } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {
        merges.emplace_back(e[0].get<std::string>(), e[1].get<std::string>());
      } else {
        fail("model.merges[" + std::to_string(i) + "] is " + e.dump() +
             ", not \"left right\" or [\"left\", \"right\"]");
      }
    }
    BpeOptions opt;
    if (m.contains("unk_token") && m["unk_token"].is_string()) opt.unk_token = m["unk_token"].get<std::string>();
    opt.fuse_unk = get_bool(m, "fuse_unk", false, "model");
    opt.byte_fallback = get_bool(m, "byte_fallback", false, "model");
    opt.ignore_merges = get_bool(m, "ignore_merges", false, "model");
    return BpeModel(std::move(vocab), merges, std::move(opt), path);
  }

  std::vector<AddedToken> added_tokens(const json& root) const {
    std::vector<AddedToken> out;
    if (!root.contains("added_tokens") || root["added_tokens"].is_null()) return out;
    const json& list = root["added_tokens"];
    if (!list.is_array()) fail("added_tokens is not an array");
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string where = "added_tokens[" + std::to_string(i) + "]";
      const json& t = list[i];
      if (!t.is_object() || !t.contains("id") || !t["id"].is_number_integer() || t["id"].get<int64_t>() < 0 ||
          !t.contains("content") || !t["content"].is_string())
        fail(where + " is " + t.dump().substr(0, 200) + ", not {\"id\": N, \"content\": \"...\", ...}");
      AddedToken a;
      a.id = t["id"].get<int32_t>();
      a.content = t["content"].get<std::string>();
      a.special = get_bool(t, "special", false, where);
      a.single_word = get_bool(t, "single_word", false, where);
      a.lstrip = get_bool(t, "lstrip", false, where);
      a.rstrip = get_bool(t, "rstrip", false, where);
      a.normalized = get_bool(t, "normalized", !a.special, where);
      out.push_back(std::move(a));
    }
    return out;
  }
};

}  // namespace

// Supported: model BPE (vocab; merges as "a b" strings or ["a", "b"] pairs; unk_token, fuse_unk, byte_fallback,
// ignore_merges), normalizer null / NFC / Sequence of NFC, pre_tokenizer ByteLevel / Split (Regex or String, any of
// the five behaviors, invert) / Sequence of them with at least one ByteLevel, added_tokens with all their options.
std::unique_ptr<Tokenizer> make_bpe_tokenizer(const std::string& path) {
  const Reader r{path};
  std::ifstream in(path, std::ios::binary);
  STRATA_USER_CHECK(in.good(), "tokenizer.json '" + path +
                                   "' cannot be opened: check data.tokenizer (a tokenizer.json "
                                   "or a folder holding one)");
  std::stringstream buf;
  buf << in.rdbuf();
  json root;
  try {
    root = json::parse(buf.str());
  } catch (const json::exception& e) {
    r.fail(std::string("not valid JSON (") + e.what() + "); re-download or re-export the tokenizer.json");
  }
  if (!root.is_object()) r.fail("the top level is not a JSON object; is this an HF tokenizer.json?");
  if (!root.contains("model")) r.fail("no \"model\" key; is this an HF tokenizer.json?");
  try {
    BpeModel model = r.model(root["model"]);
    const bool nfc = r.normalizer(root.contains("normalizer") ? root["normalizer"] : json(), "normalizer");
    PreTokenizer pre;
    if (!root.contains("pre_tokenizer") || root["pre_tokenizer"].is_null())
      r.fail("pre_tokenizer is null; only byte-level BPE (a ByteLevel pre-tokenizer) is supported");
    r.pre_tokenizer(root["pre_tokenizer"], "pre_tokenizer", pre);
    if (!pre.has_byte_level())
      r.fail("pre_tokenizer has no ByteLevel step; only byte-level BPE tokenizers are supported");
    return std::make_unique<BpeTokenizer>(std::move(model), std::move(pre), nfc, r.added_tokens(root), path);
  } catch (const json::exception& e) {
    r.fail(std::string("unexpected JSON structure (") + e.what() + "); is this an HF tokenizer.json?");
  }
}

}  // namespace strata
