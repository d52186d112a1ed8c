// Tests of the tokenizer.json byte-level BPE tokenizer: id-for-id parity with HF tokenizers on ~2800 strings for
// GPT-2 / LLaMA-3 / Qwen2-style files (tests/golden/bpe_ids.bin), decodes, special tokens, errors, threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "tokenizer/byte_level_alphabet.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode_regex.h"
#include "tokenizer/utf8.h"
#include "tests/support/golden_file.h"
#include "tests/support/temp_dir.h"

namespace strata {
namespace {

using nlohmann::json;
using test::error_of;

std::string escaped(std::string_view s, size_t max_len = 160) {
  std::string out;
  for (size_t i = 0; i < s.size() && out.size() < max_len; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '\r') out += "\\r";
    else if (c < 0x20 || c == 0x7F || c >= 0x80) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02X", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (out.size() >= max_len) out += "...";
  return out;
}

std::string ids_str(const int32_t* ids, size_t n) {
  std::string out = "[";
  for (size_t i = 0; i < n; ++i) out += (i ? ", " : "") + std::to_string(ids[i]);
  return out + "]";
}

std::vector<int32_t> encode_ids(const Tokenizer& tok, const std::string& text) {
  std::vector<int32_t> ids;
  tok.encode(text, ids);
  return ids;
}

void expect_mentions(const std::string& msg, std::initializer_list<std::string> parts) {
  ASSERT_FALSE(msg.empty()) << "expected a StrataError";
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  for (const std::string& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
}

json read_json(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in);
}

std::string write_file(const test::TempDir& dir, const std::string& name, const std::string& text) {
  const std::string p = dir / name;
  std::ofstream(p, std::ios::binary) << text;
  return p;
}

// The golden strings and, per tokenizer, the HF ids and decodes.
class BpeGolden {
 public:
  BpeGolden() : g_(test::GoldenFile::load(test::golden_path("bpe_ids.bin"))) {}
  const test::GoldenFile& file() const { return g_; }
  size_t size() const { return g_.i32("text_offsets").size() - 1; }
  std::string text(size_t i) const { return slice(g_.i32("text_bytes"), g_.i32("text_offsets"), i); }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    std::stringstream ss(g_.meta("tokenizers"));
    for (std::string n; std::getline(ss, n, ',');) out.push_back(n);
    return out;
  }
  // The tokenizer `name` (its file with its JSON patch applied, written to `dir`).
  std::unique_ptr<Tokenizer> load(const std::string& name, const test::TempDir& dir) const {
    const std::string file = test::golden_path(g_.meta(name + ".file"));
    const json patch = json::parse(g_.meta(name + ".patch"));
    if (patch.empty()) return make_bpe_tokenizer(file);
    json spec = read_json(file);
    for (const auto& [path, value] : patch.items()) {
      json* node = &spec;
      std::stringstream ss(path);
      std::vector<std::string> keys;
      for (std::string k; std::getline(ss, k, '.');) keys.push_back(k);
      for (size_t k = 0; k + 1 < keys.size(); ++k) node = &(*node)[keys[k]];
      (*node)[keys.back()] = value;
    }
    return make_bpe_tokenizer(write_file(dir, name + ".tokenizer.json", spec.dump()));
  }

  static std::string slice(const std::vector<int32_t>& bytes, const std::vector<int32_t>& offsets, size_t i) {
    std::string s;
    for (int32_t k = offsets[i]; k < offsets[i + 1]; ++k) s += static_cast<char>(static_cast<unsigned char>(bytes[k]));
    return s;
  }

 private:
  test::GoldenFile g_;
};

TEST(BpeTokenizer, IdsMatchHfTokenizersExactly) {
  const BpeGolden golden;
  const test::TempDir dir;
  ASSERT_GE(golden.size(), 2500u);
  const std::vector<std::string> names = golden.names();
  ASSERT_GE(names.size(), 3u);
  for (const std::string& name : names) {
    SCOPED_TRACE(name);
    const auto tok = golden.load(name, dir);
    const auto& ids = golden.file().i32(name + ".ids");
    const auto& offsets = golden.file().i32(name + ".id_offsets");
    ASSERT_EQ(offsets.size(), golden.size() + 1);
    size_t mismatches = 0, total_ids = 0;
    for (size_t i = 0; i < golden.size(); ++i) {
      const std::string text = golden.text(i);
      std::vector<int32_t> got;
      tok->encode(text, got);
      total_ids += got.size();
      const int32_t* want = ids.data() + offsets[i];
      const size_t n = static_cast<size_t>(offsets[i + 1] - offsets[i]);
      if (got.size() == n && std::equal(got.begin(), got.end(), want)) continue;
      if (++mismatches <= 5)
        ADD_FAILURE() << name << " string " << i << " \"" << escaped(text) << "\"\n  HF:     " << ids_str(want, n)
                      << "\n  strata: " << ids_str(got.data(), got.size());
    }
    EXPECT_EQ(mismatches, 0u) << name << ": " << mismatches << " of " << golden.size() << " strings differ";
    EXPECT_EQ(total_ids, ids.size());
    std::printf("[ parity ] %s: %zu strings, %zu ids, %zu mismatches\n", name.c_str(), golden.size(), ids.size(),
                mismatches);
  }
}

TEST(BpeTokenizer, DecodeMatchesHfTokenizers) {
  const BpeGolden golden;
  const test::TempDir dir;
  for (const std::string& name : golden.names()) {
    if (golden.file().meta(name + ".decodes") != "true") continue;
    SCOPED_TRACE(name);
    const auto tok = golden.load(name, dir);
    const auto& ids = golden.file().i32(name + ".ids");
    const auto& offsets = golden.file().i32(name + ".id_offsets");
    const auto& diff = golden.file().i32(name + ".decode_diff");
    size_t next_diff = 0, mismatches = 0;
    for (size_t i = 0; i < golden.size(); ++i) {
      std::string want = golden.text(i);
      if (next_diff < diff.size() && static_cast<size_t>(diff[next_diff]) == i)
        want = BpeGolden::slice(golden.file().i32(name + ".decode_bytes"), golden.file().i32(name + ".decode_offsets"),
                                next_diff++);
      const std::vector<int32_t> in(ids.begin() + offsets[i], ids.begin() + offsets[i + 1]);
      const std::string got = tok->decode(in);
      if (got != want && ++mismatches <= 5)
        ADD_FAILURE() << name << " string " << i << "\n  HF:     \"" << escaped(want) << "\"\n  strata: \""
                      << escaped(got) << "\"";
    }
    EXPECT_EQ(mismatches, 0u);
    EXPECT_EQ(next_diff, diff.size());
  }
}

TEST(BpeTokenizer, SpecialTokensBosEosAndPieces) {
  const std::string gpt2 = test::golden_path("bpe_gpt2style.tokenizer.json");
  const auto tok = make_bpe_tokenizer(gpt2);
  const json spec = read_json(gpt2);
  const auto added_id = [&](const json& s, const std::string& content) {
    for (const auto& t : s["added_tokens"])
      if (t["content"] == content) return t["id"].get<int>();
    return -1;
  };
  EXPECT_EQ(tok->name(), "bpe:bpe_gpt2style.tokenizer.json");
  EXPECT_EQ(tok->bos_id(), added_id(spec, "<s>"));
  EXPECT_EQ(tok->eos_id(), added_id(spec, "</s>"));
  EXPECT_EQ(tok->piece_to_id("<|im_start|>"), added_id(spec, "<|im_start|>"));
  EXPECT_GE(tok->piece_to_id("<|im_start|>"), 0);
  EXPECT_EQ(tok->piece_to_id("[[note]]"), added_id(spec, "[[note]]"));
  EXPECT_EQ(tok->piece_to_id("\xC4\xA0the"), spec["model"]["vocab"]["\xC4\xA0the"].get<int>());  // "Ġthe"
  EXPECT_EQ(tok->piece_to_id("<|not a token|>"), -1);
  EXPECT_EQ(tok->vocab_size(), added_id(spec, "<tool>") + 1);  // the added tokens follow the 2000 model tokens

  std::vector<int32_t> ids;
  tok->encode("hi<|im_start|>user\n", ids);
  ASSERT_GE(ids.size(), 3u);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), tok->piece_to_id("<|im_start|>")), 1);
  EXPECT_EQ(tok->decode(ids), "hi<|im_start|>user\n");  // special tokens decode to their text

  const auto llama = make_bpe_tokenizer(test::golden_path("bpe_llama3style.tokenizer.json"));
  EXPECT_EQ(llama->bos_id(), llama->piece_to_id("<|begin_of_text|>"));
  EXPECT_EQ(llama->eos_id(), llama->piece_to_id("<|end_of_text|>"));
  EXPECT_GE(llama->piece_to_id("<|im_start|>"), 0);
  const auto qwen = make_bpe_tokenizer(test::golden_path("bpe_qwen2style.tokenizer.json"));
  EXPECT_EQ(qwen->bos_id(), qwen->piece_to_id("<|endoftext|>"));  // the only candidate: both BOS and EOS
  EXPECT_EQ(qwen->eos_id(), qwen->piece_to_id("<|endoftext|>"));
  EXPECT_GE(qwen->bos_id(), 0);
}

TEST(BpeTokenizer, InvalidUtf8EncodesAsItsBytes) {
  const auto tok = make_bpe_tokenizer(test::golden_path("bpe_gpt2style.tokenizer.json"));
  const std::string text = "ok \xFF\xFE caf\xC3 \xE2\x82 end\xF0\x9F";
  std::vector<int32_t> ids;
  tok->encode(text, ids);
  // A lone byte is its byte-level token: 0xFF is U+00FF "\xC3\xBF", 0xC3 is U+00C3 "\xC3\x83".
  EXPECT_EQ(encode_ids(*tok, "\xFF"), (std::vector<int32_t>{tok->piece_to_id("\xC3\xBF")}));
  EXPECT_EQ(encode_ids(*tok, "\xC3"), (std::vector<int32_t>{tok->piece_to_id("\xC3\x83")}));
  EXPECT_EQ(tok->decode(ids), utf8::lossy(text));
  std::vector<int32_t> again;
  tok->encode(text, again);
  EXPECT_EQ(ids, again);
}

TEST(BpeTokenizer, ConcurrentEncodesAreDeterministic) {
  const BpeGolden golden;
  for (const std::string name : {"bpe_gpt2style", "bpe_llama3style", "bpe_qwen2style"}) {
    SCOPED_TRACE(name);
    const auto tok = make_bpe_tokenizer(test::golden_path(name + ".tokenizer.json"));  // fresh: empty word cache
    const size_t n = golden.size();
    constexpr int kThreads = 8;
    std::vector<std::vector<std::vector<int32_t>>> results(kThreads, std::vector<std::vector<int32_t>>(n));
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        for (size_t k = 0; k < n; ++k) {
          // A different order per thread: rotated, and backwards on odd threads.
          const size_t r = (k + static_cast<size_t>(t) * n / kThreads) % n;
          const size_t i = t % 2 ? n - 1 - r : r;
          tok->encode(golden.text(i), results[t][i]);
        }
      });
    for (auto& th : threads) th.join();
    const auto& ids = golden.file().i32(name + ".ids");
    const auto& offsets = golden.file().i32(name + ".id_offsets");
    size_t bad = 0;
    for (int t = 0; t < kThreads; ++t)
      for (size_t i = 0; i < n; ++i)
        bad += !std::equal(results[t][i].begin(), results[t][i].end(), ids.begin() + offsets[i],
                           ids.begin() + offsets[i + 1]) ||
               results[t][i].size() != static_cast<size_t>(offsets[i + 1] - offsets[i]);
    EXPECT_EQ(bad, 0u);
  }
}

// ---- small hand-made files: unk, byte fallback, Split behaviors (expected ids from HF tokenizers 0.23.3) ------------

json byte_level_step() {
  return {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}};
}

json special_token(int id, const std::string& content) {
  return {{"id", id}, {"content", content}, {"single_word", false}, {"lstrip", false},
          {"rstrip", false}, {"normalized", false}, {"special", true}};
}

json tokenizer_json(const json& vocab, const json& merges, const json& pre, const json& added, json model_extra = {}) {
  json model = {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", nullptr},
                {"end_of_word_suffix", nullptr}, {"fuse_unk", false}, {"byte_fallback", false},
                {"ignore_merges", false}, {"vocab", vocab}, {"merges", merges}};
  for (const auto& [k, v] : model_extra.items()) model[k] = v;
  return {{"version", "1.0"}, {"truncation", nullptr}, {"padding", nullptr}, {"added_tokens", added},
          {"normalizer", nullptr}, {"pre_tokenizer", pre}, {"post_processor", nullptr},
          {"decoder", {{"type", "ByteLevel"}}}, {"model", model}};
}

TEST(BpeTokenizer, UnkAndByteFallbackLikeHf) {
  const test::TempDir dir;
  const json vocab = {{"<unk>", 0}, {"a", 1}, {"b", 2}, {"ab", 3}, {"</s>", 4}};
  const json added = json::array({special_token(4, "</s>")});
  const auto fused = make_bpe_tokenizer(write_file(
      dir, "fused.json",
      tokenizer_json(vocab, json::array({"a b"}), byte_level_step(), added,
                     {{"unk_token", "<unk>"}, {"fuse_unk", true}})
          .dump()));
  EXPECT_EQ(encode_ids(*fused, "accb"), (std::vector<int32_t>{1, 0, 2}));
  EXPECT_EQ(encode_ids(*fused, "abcab"), (std::vector<int32_t>{3, 0, 3}));
  EXPECT_EQ(encode_ids(*fused, "cc ab"), (std::vector<int32_t>{0, 3}));
  EXPECT_EQ(fused->bos_id(), 4);  // no BOS candidate: BOS falls back to EOS
  const auto unfused = make_bpe_tokenizer(write_file(
      dir, "unfused.json",
      tokenizer_json(vocab, json::array({json::array({"a", "b"})}), byte_level_step(), added, {{"unk_token", "<unk>"}})
          .dump()));
  EXPECT_EQ(encode_ids(*unfused, "accb"), (std::vector<int32_t>{1, 0, 0, 2}));
  EXPECT_EQ(encode_ids(*unfused, "abcab"), (std::vector<int32_t>{3, 0, 3}));

  const json fb_vocab = {{"<unk>", 0}, {"<0x63>", 1}, {"a", 2}, {"</s>", 3}, {"<0xC3>", 4}, {"<0x83>", 5},
                         {"\xC3\x83", 6}};
  const auto fallback = make_bpe_tokenizer(write_file(
      dir, "fallback.json",
      tokenizer_json(fb_vocab, json::array(), byte_level_step(), json::array({special_token(3, "</s>")}),
                     {{"unk_token", "<unk>"}, {"byte_fallback", true}})
          .dump()));
  EXPECT_EQ(encode_ids(*fallback, "ac"), (std::vector<int32_t>{2, 1}));
  EXPECT_EQ(encode_ids(*fallback, "\xC3\xA9"), (std::vector<int32_t>{6, 0}));  // "é" -> "Ã©": Ã known, © -> unk
  EXPECT_EQ(encode_ids(*fallback, "acx"), (std::vector<int32_t>{2, 1, 0}));
}

TEST(BpeTokenizer, SplitBehaviorsLikeHf) {
  const test::TempDir dir;
  std::vector<char32_t> alphabet;
  for (int b = 0; b < 256; ++b) alphabet.push_back(byte_level_alphabet().code_point(static_cast<uint8_t>(b)));
  std::sort(alphabet.begin(), alphabet.end());
  json vocab = json::object();
  for (size_t i = 0; i < alphabet.size(); ++i) {
    std::string s;
    utf8::append(s, alphabet[i]);
    vocab[s] = i;
  }
  for (const char* t : {"--", "a-", "-b", "b-", "-c", "</s>"}) vocab[t] = vocab.size();
  const json merges = json::array({"- -", "a -", "- b", "b -", "- c"});
  const json added = json::array({special_token(vocab["</s>"].get<int>(), "</s>")});
  struct Case {
    std::string behavior;
    std::vector<int32_t> a, b, c;  // ids of "a-b--c-", "-a-b-", "--"
  };
  const std::vector<Case> cases = {
      {"Removed", {64, 65, 66}, {64, 65}, {}},
      {"Isolated", {64, 12, 65, 12, 12, 66, 12}, {12, 64, 12, 65, 12}, {12, 12}},
      {"MergedWithPrevious", {257, 259, 12, 66, 12}, {12, 257, 259}, {12, 12}},
      {"MergedWithNext", {64, 258, 12, 260, 12}, {12, 64, 258, 12}, {12, 12}},
      {"Contiguous", {64, 12, 65, 256, 66, 12}, {12, 64, 12, 65, 12}, {256}},
  };
  for (const Case& c : cases) {
    for (const bool invert : {false, true}) {
      SCOPED_TRACE(c.behavior + (invert ? " inverted" : ""));
      const json split = {
          {"type", "Split"}, {"pattern", {{"String", "-"}}}, {"behavior", c.behavior}, {"invert", invert}};
      const json pre = {{"type", "Sequence"}, {"pretokenizers", json::array({split, byte_level_step()})}};
      const auto tok =
          make_bpe_tokenizer(write_file(dir, "split.json", tokenizer_json(vocab, merges, pre, added).dump()));
      // HF: inverting swaps MergedWithPrevious and MergedWithNext here, and Removed keeps only the dashes.
      if (invert && c.behavior == "Removed") {
        EXPECT_EQ(encode_ids(*tok, "a-b--c-"), (std::vector<int32_t>{12, 12, 12, 12}));
        continue;
      }
      const Case* want = &c;
      if (invert && c.behavior == "MergedWithPrevious") want = &cases[3];
      if (invert && c.behavior == "MergedWithNext") want = &cases[2];
      EXPECT_EQ(encode_ids(*tok, "a-b--c-"), want->a);
      EXPECT_EQ(encode_ids(*tok, "-a-b-"), want->b);
      EXPECT_EQ(encode_ids(*tok, "--"), want->c);
    }
  }
}

// ---- errors ---------------------------------------------------------------------------------------------------------

TEST(BpeTokenizer, ErrorsNameTheFileAndTheKey) {
  const test::TempDir dir;
  expect_mentions(error_of([&] { make_bpe_tokenizer(dir / "missing.json"); }), {"missing.json", "cannot be opened"});
  const std::string bad = write_file(dir, "bad.json", "{\"model\": {\"type\": \"BPE\", ");
  expect_mentions(error_of([&] { make_bpe_tokenizer(bad); }), {"bad.json", "not valid JSON"});

  json spec = read_json(test::golden_path("bpe_gpt2style.tokenizer.json"));
  const auto with = [&](const std::string& name, const std::function<void(json&)>& edit) {
    json s = spec;
    edit(s);
    return write_file(dir, name, s.dump());
  };
  const std::string unigram = with("unigram.json", [](json& s) { s["model"]["type"] = "Unigram"; });
  expect_mentions(error_of([&] { make_bpe_tokenizer(unigram); }), {"unigram.json", "model.type", "\"Unigram\""});
  const std::string wordpiece = with("wp.json", [](json& s) { s["model"]["type"] = "WordPiece"; });
  expect_mentions(error_of([&] { make_bpe_tokenizer(wordpiece); }), {"model.type", "\"WordPiece\""});
  const std::string lower = with("lower.json", [](json& s) { s["normalizer"] = {{"type", "Lowercase"}}; });
  expect_mentions(error_of([&] { make_bpe_tokenizer(lower); }), {"lower.json", "normalizer.type", "\"Lowercase\""});
  const std::string meta = with("meta.json", [](json& s) {
    s["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", json::array({{{"type", "Metaspace"}}})}};
  });
  expect_mentions(error_of([&] { make_bpe_tokenizer(meta); }),
                  {"meta.json", "pre_tokenizer.pretokenizers[0].type", "\"Metaspace\""});
  const std::string no_bl = with("nobl.json", [](json& s) {
    s["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"String", " "}}}, {"behavior", "Isolated"}};
  });
  expect_mentions(error_of([&] { make_bpe_tokenizer(no_bl); }), {"nobl.json", "ByteLevel"});
  const std::string bad_re = with("badre.json", [](json& s) {
    s["pre_tokenizer"] = {{"type", "Sequence"},
                          {"pretokenizers", json::array({{{"type", "Split"}, {"pattern", {{"Regex", "(a"}}},
                                                           {"behavior", "Isolated"}, {"invert", false}},
                                                          byte_level_step()})}};
  });
  expect_mentions(error_of([&] { make_bpe_tokenizer(bad_re); }), {"badre.json", "pattern.Regex", "(a"});
  const std::string merge = with("merge.json", [](json& s) { s["model"]["merges"][5] = json::array({"zz", "q"}); });
  expect_mentions(error_of([&] { make_bpe_tokenizer(merge); }), {"merge.json", "model.merges[5]", "zz"});
  const std::string dropout = with("dropout.json", [](json& s) { s["model"]["dropout"] = 0.1; });
  expect_mentions(error_of([&] { make_bpe_tokenizer(dropout); }), {"model.dropout"});
  const std::string no_special = with("nospecial.json", [](json& s) {
    s["added_tokens"] = json::array();
    for (const char* t : {"<|endoftext|>", "<s>", "</s>"}) s["model"]["vocab"].erase(t);
  });
  expect_mentions(error_of([&] { make_bpe_tokenizer(no_special); }), {"nospecial.json", "BOS/EOS"});
  // make_tokenizer picks this tokenizer for a .json path and for a folder holding tokenizer.json.
  const std::string folder = dir / "model";
  std::filesystem::create_directory(folder);
  std::filesystem::copy_file(test::golden_path("bpe_gpt2style.tokenizer.json"), folder + "/tokenizer.json");
  EXPECT_EQ(make_tokenizer(folder)->name(), "bpe:tokenizer.json");
}

TEST(BpeTokenizer, PatternTranslationKeepsEscapes) {
  EXPECT_EQ(translate_oniguruma_pattern(R"(\s+(?!\S))"), R"(\p{White_Space}+(?!\P{White_Space}))");
  EXPECT_EQ(translate_oniguruma_pattern(R"([^\s\p{L}]\\s\\\s)"), R"([^\p{White_Space}\p{L}]\\s\\\p{White_Space})");
}

}  // namespace
}  // namespace strata
