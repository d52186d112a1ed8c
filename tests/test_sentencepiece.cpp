// SentencePiece tokenizer: ids and decodes identical to python sentencepiece on ~3000 varied strings with the real
// LLaMA-2 tokenizer.model (goldens from tools/make_sentencepiece_goldens.py), model facts, errors, threads.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "core/check.h"
#include "tokenizer/tokenizer.h"
#include "tests/support/golden_file.h"
#include "tests/support/temp_dir.h"

namespace strata {
namespace {

namespace fs = std::filesystem;

const std::string kModelDir = STRATA_SHARED_DATA_DIR "/llama2-tokenizer";
const std::string kModel = kModelDir + "/tokenizer.model";

#define SKIP_WITHOUT_MODEL()                                                                                   \
  if (!fs::exists(kModel))                                                                                     \
    GTEST_SKIP() << "the LLaMA-2 tokenizer is not here (" << kModel << "): put the shared data next to the "  \
                    "repository to run the SentencePiece parity tests"

// The goldens: strings, python's ids and the decodes that differ from the string itself.
struct Corpus {
  std::vector<std::string> texts, decodes;  // decodes[i]: python's sp.decode(ids[i])
  std::vector<std::vector<int32_t>> ids;
  size_t n_ids = 0;
};

std::vector<std::string> split_bytes(const test::GoldenFile& g, const std::string& data, const std::string& offs) {
  const auto& bytes = g.i32(data);
  const auto& off = g.i32(offs);
  std::vector<std::string> out;
  for (size_t i = 0; i + 1 < off.size(); ++i) {
    std::string s;
    for (int32_t k = off[i]; k < off[i + 1]; ++k) s.push_back(static_cast<char>(static_cast<uint8_t>(bytes[k])));
    out.push_back(std::move(s));
  }
  return out;
}

Corpus load_corpus() {
  const auto g = test::GoldenFile::load(test::golden_path("sp_llama2_ids.bin"));
  STRATA_CHECK(static_cast<int64_t>(fs::file_size(kModel)) == g.meta_int("model_bytes"),
               kModel + " is not the tokenizer.model the goldens were made from (sha256 " + g.meta("model_sha256") +
                   "): regenerate them with tools/make_sentencepiece_goldens.py");
  Corpus c;
  c.texts = split_bytes(g, "text_bytes", "text_offsets");
  c.decodes = c.texts;
  const auto diff_text = split_bytes(g, "decode_bytes", "decode_offsets");
  const auto& diff = g.i32("decode_diff");
  for (size_t k = 0; k < diff.size(); ++k) c.decodes.at(diff[k]) = diff_text.at(k);
  const auto& ids = g.i32("ids");
  const auto& off = g.i32("id_offsets");
  for (size_t i = 0; i + 1 < off.size(); ++i) c.ids.emplace_back(ids.begin() + off[i], ids.begin() + off[i + 1]);
  c.n_ids = ids.size();
  STRATA_CHECK(c.ids.size() == c.texts.size() && static_cast<int64_t>(c.texts.size()) == g.meta_int("n_strings"),
               "sp_llama2_ids.bin: string and id counts disagree; regenerate it");
  return c;
}

// Printable ASCII as is, everything else as \xNN (UTF-8 bytes); long strings cut.
std::string escaped(const std::string& s, size_t max_len = 160) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < max_len; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '\\') out += "\\\\";
    else if (c >= 0x20 && c < 0x7F) out.push_back(static_cast<char>(c));
    else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    }
  }
  if (s.size() > max_len) out += "...(" + std::to_string(s.size()) + " bytes)";
  return out;
}

std::string ids_str(const std::vector<int32_t>& ids, size_t max_n = 24) {
  std::string out = "[";
  for (size_t i = 0; i < ids.size() && i < max_n; ++i) out += (i ? ", " : "") + std::to_string(ids[i]);
  return out + (ids.size() > max_n ? ", ...]" : "]");
}

std::vector<int32_t> encode(const Tokenizer& t, const std::string& s) {
  std::vector<int32_t> out;
  t.encode(s, out);
  return out;
}

TEST(SentencePiece, IdsMatchPythonSentencePiece) {
  SKIP_WITHOUT_MODEL();
  const Corpus c = load_corpus();
  const auto tok = make_sentencepiece_tokenizer(kModel);
  size_t mismatches = 0, compared = 0;
  std::string report;
  for (size_t i = 0; i < c.texts.size(); ++i) {
    const auto got = encode(*tok, c.texts[i]);
    compared += c.ids[i].size();
    if (got == c.ids[i]) continue;
    if (++mismatches <= 10)
      report += "\n  string " + std::to_string(i) + " \"" + escaped(c.texts[i]) + "\"\n    python " +
                ids_str(c.ids[i]) + "\n    strata " + ids_str(got);
  }
  std::cout << "[ sentencepiece ] " << c.texts.size() << " strings, " << compared << " ids compared, " << mismatches
            << " mismatching strings\n";
  EXPECT_EQ(mismatches, 0u) << "first mismatches:" << report;
}

TEST(SentencePiece, DecodeMatchesPythonSentencePiece) {
  SKIP_WITHOUT_MODEL();
  const Corpus c = load_corpus();
  const auto tok = make_sentencepiece_tokenizer(kModel);
  size_t mismatches = 0;
  std::string report;
  for (size_t i = 0; i < c.texts.size(); ++i) {
    const std::string got = tok->decode(c.ids[i]);
    if (got == c.decodes[i]) continue;
    if (++mismatches <= 10)
      report += "\n  string " + std::to_string(i) + " ids " + ids_str(c.ids[i]) + "\n    python \"" +
                escaped(c.decodes[i]) + "\"\n    strata \"" + escaped(got) + "\"";
  }
  EXPECT_EQ(mismatches, 0u) << "first mismatches:" << report;
}

TEST(SentencePiece, ModelFacts) {
  SKIP_WITHOUT_MODEL();
  const auto tok = make_sentencepiece_tokenizer(kModel);
  EXPECT_EQ(tok->name(), "sentencepiece:tokenizer.model");
  EXPECT_EQ(tok->vocab_size(), 32000);
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
  EXPECT_EQ(tok->piece_to_id("</s>"), 2);
  EXPECT_EQ(tok->piece_to_id("<s>"), 1);
  EXPECT_EQ(tok->piece_to_id("<unk>"), 0);
  EXPECT_EQ(tok->piece_to_id("<0x0A>"), 13);
  EXPECT_EQ(tok->piece_to_id("\xE2\x96\x81the"), 278);  // "▁the"
  EXPECT_EQ(tok->piece_to_id("<|im_start|>"), -1);
  EXPECT_EQ(tok->piece_to_id(""), -1);
  // No BOS/EOS from encode; they decode to nothing; an id outside the vocabulary decodes visibly.
  EXPECT_EQ(encode(*tok, "Hello world"), (std::vector<int32_t>{15043, 3186}));
  EXPECT_EQ(encode(*tok, "</s>"), (std::vector<int32_t>{1533, 29879, 29958}));
  EXPECT_TRUE(encode(*tok, "").empty());
  std::vector<int32_t> appended{7};
  tok->encode("Hello world", appended);
  EXPECT_EQ(appended, (std::vector<int32_t>{7, 15043, 3186}));
  EXPECT_EQ(tok->decode({1, 15043, 3186, 2}), "Hello world");
  EXPECT_NE(tok->decode({15043, 32000, -5}).find("\xE2\x81\x87"), std::string::npos);
}

TEST(SentencePiece, MakeTokenizerFindsTheModelInAFolder) {
  SKIP_WITHOUT_MODEL();
  const auto from_dir = make_tokenizer(kModelDir);
  const auto from_file = make_tokenizer(kModel);
  EXPECT_EQ(from_dir->name(), "sentencepiece:tokenizer.model");
  EXPECT_EQ(from_file->name(), "sentencepiece:tokenizer.model");
  EXPECT_EQ(from_dir->vocab_size(), 32000);
  EXPECT_EQ(encode(*from_dir, " Hello\tworld 123"), encode(*from_file, " Hello\tworld 123"));
  EXPECT_EQ(encode(*from_dir, "Hello world"), (std::vector<int32_t>{15043, 3186}));
}

TEST(SentencePiece, ConcurrentEncodeGivesTheSameIds) {
  SKIP_WITHOUT_MODEL();
  const Corpus c = load_corpus();
  const auto tok = make_sentencepiece_tokenizer(kModel);
  constexpr int kThreads = 8;
  std::vector<std::vector<std::vector<int32_t>>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      // Every thread encodes the whole corpus, each from a different starting point, so threads overlap.
      const size_t n = c.texts.size();
      got[t].resize(n);
      for (size_t k = 0; k < n; ++k) {
        const size_t i = (k + t * n / kThreads) % n;
        tok->encode(c.texts[i], got[t][i]);
      }
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    size_t bad = 0;
    for (size_t i = 0; i < c.texts.size(); ++i) bad += got[t][i] != c.ids[i];
    EXPECT_EQ(bad, 0u) << "thread " << t;
  }
}

TEST(SentencePiece, MissingFileIsACleanError) {
  test::TempDir tmp;
  const std::string path = tmp / "nope.model";
  const std::string msg = test::error_of([&] { make_sentencepiece_tokenizer(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("could not be loaded (Not found"), std::string::npos) << msg;  // the library's status
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  const std::string dir_msg = test::error_of([&] { make_sentencepiece_tokenizer(tmp.path()); });
  EXPECT_NE(dir_msg.find("'" + tmp.path() + "' is not a file"), std::string::npos) << dir_msg;
}

TEST(SentencePiece, ModelWithoutBosEosIsRefused) {
  const std::string path = test::golden_path("sp_no_bos_eos.model");
  const std::string msg = test::error_of([&] { make_sentencepiece_tokenizer(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("defines no BOS or EOS piece (bos_id -1, eos_id -1)"), std::string::npos) << msg;
}

TEST(SentencePiece, GarbageFileIsACleanError) {
  test::TempDir tmp;
  for (const std::string& content : {std::string("this is not a sentencepiece model\n"), std::string(),
                                    std::string("\x0a\xff\xff\xff\xff\x0f garbage \x00\x01", 17)}) {
    const std::string path = tmp / "garbage.model";
    std::ofstream(path, std::ios::binary) << content;
    const std::string msg = test::error_of([&] { make_sentencepiece_tokenizer(path); });
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find("could not be loaded ("), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    // Through the factory too: a file that is not .json is taken as a SentencePiece model.
    EXPECT_NE(test::error_of([&] { make_tokenizer(path); }).find(path), std::string::npos);
  }
}

}  // namespace
}  // namespace strata
