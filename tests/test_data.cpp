// Tests of the data pipeline (data/): byte tokenizer, text/JSONL/LMFlow readers and their error messages,
// token files (round trips, corruption), packing, the resumable data loader, splits, synthetic stories, loading.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <set>
#include <string>
#include <vector>

#include "core/check.h"
#include "data/data_loader.h"
#include "data/dataset_readers.h"
#include "data/packed_dataset.h"
#include "tokenizer/tokenizer.h"
#include "data/training_data.h"

namespace strata {
namespace {

namespace fs = std::filesystem;

class Data : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/strata_data_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string write(const std::string& name, const std::string& text) const {
    const std::string p = dir_ + "/" + name;
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  std::string dir_;
  ByteTokenizer tok_;
};

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const StrataError& e) {
    return e.what();
  }
  return "";
}

void expect_mentions(const std::string& msg, std::initializer_list<std::string> parts) {
  ASSERT_FALSE(msg.empty()) << "expected an error";
  for (const std::string& part : parts)
    EXPECT_NE(msg.find(part), std::string::npos) << "missing '" << part << "' in: " << msg;
}

std::vector<int32_t> bytes_of(const std::string& s) {
  std::vector<int32_t> ids;
  for (unsigned char c : s) ids.push_back(c);
  return ids;
}

std::vector<int32_t> framed(const std::string& s) {  // BOS + bytes + EOS
  std::vector<int32_t> ids{256};
  for (int32_t id : bytes_of(s)) ids.push_back(id);
  ids.push_back(257);
  return ids;
}

std::vector<uint8_t> text_mask(size_t n) {
  std::vector<uint8_t> m(n, 1);
  m[0] = 0;
  return m;
}

// ---- tokenizer ---------------------------------------------------------------------------------------------

TEST_F(Data, ByteTokenizerRoundTripsUtf8) {
  const std::string text = "Grüße, 世界! 🙂\n\ttab";
  std::vector<int32_t> ids{7};
  tok_.encode(text, ids);
  ASSERT_EQ(ids.size(), 1 + text.size());  // appended, bytes not code points
  EXPECT_EQ(ids[0], 7);
  for (int32_t id : ids) EXPECT_TRUE(id >= 0 && id < 256);
  ids.erase(ids.begin());
  EXPECT_EQ(tok_.decode(ids), text);
  ids.insert(ids.begin(), tok_.bos_id());
  ids.push_back(tok_.eos_id());
  EXPECT_EQ(tok_.decode(ids), text);  // BOS/EOS decode to nothing
  EXPECT_EQ(tok_.decode({300}), "\xEF\xBF\xBD");
  EXPECT_EQ(tok_.vocab_size(), 258);
}

TEST_F(Data, MakeTokenizer) {
  EXPECT_EQ(make_tokenizer("byte")->name(), "byte");
  expect_mentions(error_of([] { make_tokenizer("sentencepiece"); }), {"data.tokenizer", "'sentencepiece'", "byte"});
}

// ---- text, JSONL, LMFlow readers ----------------------------------------------------------------------------

TEST_F(Data, TextFileIsOneDocument) {
  const std::string text = "line one\n\nline two\nno newline at the end";
  const auto docs = read_documents(write("a.txt", text), DataFormat::Auto, tok_, "text");
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0].tokens, framed(text));
  EXPECT_EQ(docs[0].mask, text_mask(text.size() + 2));
  const auto empty = read_documents(write("e.md", ""), DataFormat::Auto, tok_, "text");
  ASSERT_EQ(empty.size(), 1u);
  EXPECT_EQ(empty[0].tokens, framed(""));
}

TEST_F(Data, BigTextFileIsOneDocument) {
  std::string text;
  for (int i = 0; text.size() < 3u << 20; ++i) text += "sentence " + std::to_string(i) + (i % 7 ? " " : "\n");
  const auto docs = read_documents(write("big.txt", text), DataFormat::Text, tok_, "text");
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0].tokens, framed(text));
}

TEST_F(Data, JsonlOneDocumentPerLine) {
  const auto p =
      write("d.jsonl", "{\"text\": \"hi\"}\n\n   \r\n{\"body\": \"x\", \"text\": \"h\\u00e9\"}\r\n{\"text\": \"\"}");
  const auto docs = read_documents(p, DataFormat::Auto, tok_, "text");
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_EQ(docs[0].tokens, framed("hi"));
  EXPECT_EQ(docs[1].tokens, framed("h\xC3\xA9"));
  EXPECT_EQ(docs[2].tokens, framed(""));
  for (const auto& d : docs) EXPECT_EQ(d.mask, text_mask(d.tokens.size()));
  const auto by_body = read_documents(write("b.jsonl", "{\"body\": \"x\"}\n"), DataFormat::Jsonl, tok_, "body");
  EXPECT_EQ(by_body.at(0).tokens, framed("x"));
}

TEST_F(Data, JsonlErrorsNameFileAndLine) {
  const std::string ok = "{\"text\": \"fine\"}\n\n";
  auto err = [&](const std::string& bad_line) {
    const auto p = write("bad.jsonl", ok + bad_line + "\n");
    return error_of([&] { read_documents(p, DataFormat::Auto, tok_, "text"); });
  };
  expect_mentions(err("{\"text\": "), {"bad.jsonl:3:", "not valid JSON"});
  expect_mentions(err("[1, 2]"), {"bad.jsonl:3:", "JSON object", "array"});
  expect_mentions(err("{\"txt\": \"a\"}"), {"bad.jsonl:3:", "no field \"text\"", "data.text_field"});
  expect_mentions(err("{\"text\": 5}"), {"bad.jsonl:3:", "\"text\"", "number", "expected a string"});
}

TEST_F(Data, LmflowTextOnly) {
  const auto p = write("d.json", R"({"type": "text_only", "instances": [{"text": "ab"}, {"text": "c"}]})");
  const auto docs = read_documents(p, DataFormat::Auto, tok_, "text");
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[0].tokens, framed("ab"));
  EXPECT_EQ(docs[0].mask, text_mask(4));
  EXPECT_EQ(docs[1].tokens, framed("c"));
}

TEST_F(Data, LmflowText2TextMasksTheInput) {
  const auto p = write("d.json", R"({"type": "text2text", "instances": [{"input": "Q?", "output": "Ans"}]})");
  const auto docs = read_documents(p, DataFormat::Lmflow, tok_, "text");
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0].tokens, framed("Q?Ans"));
  // BOS Q ? | A n s EOS: only the output tokens and EOS are predicted in the loss.
  EXPECT_EQ(docs[0].mask, (std::vector<uint8_t>{0, 0, 0, 1, 1, 1, 1}));
}

TEST_F(Data, LmflowErrorsNameFileAndInstance) {
  auto err = [&](const std::string& json) {
    const auto p = write("l.json", json);
    return error_of([&] { read_documents(p, DataFormat::Auto, tok_, "text"); });
  };
  expect_mentions(err("{\"type\": "), {"l.json", "not valid JSON"});
  expect_mentions(error_of([&] { read_documents(write("l.json", "[]"), DataFormat::Lmflow, tok_, "text"); }),
                  {"l.json", "JSON object", "alpaca", "jsonl"});
  expect_mentions(err(R"({"instances": []})"), {"l.json", "\"type\""});
  expect_mentions(err(R"({"type": "text_only"})"), {"l.json", "\"instances\""});
  expect_mentions(err(R"({"type": "paired_conversation", "instances": []})"),
                  {"l.json", "\"paired_conversation\"", "text2text", "conversation"});
  expect_mentions(err(R"({"type": "text_only", "instances": [{"text": "a"}, 3]})"),
                  {"l.json: instance 1 (line 1):", "object", "number"});
  expect_mentions(err(R"({"type": "text_only", "instances": [{"text": "a"}, {"txt": "b"}]})"),
                  {"l.json: instance 1 (line 1):", "missing \"text\""});
  expect_mentions(err(R"({"type": "text2text", "instances": [{"input": "a", "output": "b"}, {"input": "a"}]})"),
                  {"l.json: instance 1 (line 1):", "missing \"output\""});
  expect_mentions(err(R"({"type": "text2text", "instances": [{"input": 1, "output": "b"}]})"),
                  {"l.json: instance 0 (line 1):", "\"input\"", "expected a string"});
}

TEST_F(Data, ReaderFileAndFormatErrors) {
  expect_mentions(error_of([&] { read_documents(path("nope.txt"), DataFormat::Auto, tok_, "text"); }),
                  {"cannot open", path("nope.txt")});
  const auto p = write("a.txt", "x");
  expect_mentions(error_of([&] { parse_enum<DataFormat>("csv", "data.format"); }), {"data.format", "'csv'", "jsonl"});
}

// ---- token files --------------------------------------------------------------------------------------------

std::vector<Document> sample_docs(int32_t big_id, bool custom_mask) {
  std::vector<Document> docs(3);
  docs[0].tokens = {256, 1, 2, 3, 257};
  docs[1].tokens = {};
  docs[2].tokens = {256, big_id, 65535, 0, 257};
  for (auto& d : docs) d.mask = d.tokens.empty() ? std::vector<uint8_t>{} : text_mask(d.tokens.size());
  if (custom_mask) docs[2].mask = {0, 0, 0, 1, 1};
  return docs;
}

uint32_t header_u32(const std::string& p, size_t at) {
  std::ifstream in(p, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(at));
  unsigned char b[4] = {};
  in.read(reinterpret_cast<char*>(b), 4);
  return b[0] | b[1] << 8 | b[2] << 16 | static_cast<uint32_t>(b[3]) << 24;
}

TEST_F(Data, TokenFileRoundTripU16AndU32) {
  for (const bool custom_mask : {false, true}) {
    const auto small = sample_docs(300, custom_mask), big = sample_docs(70000, custom_mask);
    const auto p16 = path("s.tok"), p32 = path("b.tok");
    write_token_file(p16, small);
    write_token_file(p32, big);
    EXPECT_EQ(header_u32(p16, 12), 2u);
    EXPECT_EQ(header_u32(p32, 12), 4u);
    EXPECT_EQ(header_u32(p16, 16), custom_mask ? 1u : 0u);  // the mask is stored only when not the default
    EXPECT_EQ(fs::file_size(p16), 40 + 3 * 8 + 10 * (2 + (custom_mask ? 1 : 0)));
    for (const auto& [p, docs] : {std::pair{p16, small}, std::pair{p32, big}}) {
      const auto back = read_token_file(p);
      ASSERT_EQ(back.size(), docs.size());
      for (size_t d = 0; d < docs.size(); ++d) {
        EXPECT_EQ(back[d].tokens, docs[d].tokens) << d;
        EXPECT_EQ(back[d].mask, docs[d].mask) << d;
      }
    }
  }
  for (const auto& e : fs::directory_iterator(dir_))  // no temp files left behind
    EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << e.path();
  // Read through read_documents: ids must fit the tokenizer.
  std::vector<Document> fits(2);
  fits[0].tokens = {256, 1, 2, 257};
  fits[1].tokens = {256, 255, 257};
  for (auto& d : fits) d.mask = text_mask(d.tokens.size());
  write_token_file(path("fits.tok"), fits);
  const auto read = read_documents(path("fits.tok"), DataFormat::Auto, tok_, "text");
  ASSERT_EQ(read.size(), 2u);
  EXPECT_EQ(read[1].tokens, fits[1].tokens);
  std::vector<Document> wide(1);
  wide[0].tokens = {256, 1000, 257};
  wide[0].mask = text_mask(3);
  write_token_file(path("wide.tok"), wide);
  expect_mentions(error_of([&] { read_documents(path("wide.tok"), DataFormat::Auto, tok_, "text"); }),
                  {"wide.tok", "1000", "data.tokenizer"});
}

TEST_F(Data, TokenFileWriteErrors) {
  std::vector<Document> docs(1);
  docs[0].tokens = {1, 2};
  docs[0].mask = {1};
  expect_mentions(error_of([&] { write_token_file(path("x.tok"), docs); }), {"x.tok", "document 0", "mask"});
  docs[0].mask = {1, 1};
  expect_mentions(error_of([&] { write_token_file(path("no/such/dir/x.tok"), docs); }), {"x.tok", "temp file"});
}

class TokenFileCorruption : public Data {
 protected:
  std::string bytes() const {
    write_token_file(path("ok.tok"), sample_docs(300, true));
    std::ifstream in(path("ok.tok"), std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::string err(const std::string& b) const {
    const auto p = write("bad.tok", b);
    return error_of([&] { read_token_file(p); });
  }
  static void put_u64(std::string& b, size_t at, uint64_t v) {
    for (int i = 0; i < 8; ++i) b[at + i] = static_cast<char>(v >> (8 * i));
  }
};

TEST_F(TokenFileCorruption, EveryDefectNamesFileAndOffset) {
  const std::string ok = bytes();
  std::string b = ok;
  b[0] = 'X';
  expect_mentions(err(b), {"bad.tok", "byte 0", "magic"});
  expect_mentions(err(ok.substr(0, 20)), {"bad.tok", "byte 20", "header"});
  expect_mentions(err(ok.substr(0, ok.size() - 1)), {"bad.tok", "byte 24", "bytes but the file has"});
  expect_mentions(err(ok + "x"), {"bad.tok", "bytes but the file has"});
  b = ok;
  b[8] = 2;
  expect_mentions(err(b), {"bad.tok", "byte 8", "version 2"});
  b = ok;
  b[12] = 3;
  expect_mentions(err(b), {"bad.tok", "byte 12", "bytes per id is 3"});
  b = ok;
  b[16] = 4;
  expect_mentions(err(b), {"bad.tok", "byte 16", "flag"});
  b = ok;
  put_u64(b, 32, 11);  // n_tokens disagrees with the file size
  expect_mentions(err(b), {"bad.tok", "byte 24", "11 tokens"});
  b = ok;
  put_u64(b, 24, uint64_t(1) << 62);  // absurd n_docs: no allocation, a clean error
  expect_mentions(err(b), {"bad.tok", "2^64"});
  b = ok;
  put_u64(b, 40 + 8, 2);  // document 1 ends before document 0 (5)
  expect_mentions(err(b), {"bad.tok", "byte 48", "document 1", "before the previous"});
  b = ok;
  put_u64(b, 40 + 16, 9);  // the last document ends short of n_tokens = 10
  expect_mentions(err(b), {"bad.tok", "byte 56", "header says 10 tokens"});
  b = ok;
  b[b.size() - 1] = 7;  // a mask byte that is not 0/1
  expect_mentions(err(b), {"bad.tok", "byte " + std::to_string(ok.size() - 1), "mask byte 7"});
  expect_mentions(error_of([&] { read_token_file(path("missing.tok")); }), {"cannot open", "missing.tok"});
}

// ---- packing ------------------------------------------------------------------------------------------------

Document doc_of(std::vector<int32_t> tokens, std::vector<uint8_t> mask) { return Document{tokens, mask}; }

TEST_F(Data, PackingShiftsTargetsMasksAndDropsTheTail) {
  const std::vector<Document> docs = {doc_of({10, 11, 12, 13}, {0, 1, 1, 1}), doc_of({20, 21, 22}, {0, 0, 1}),
                                      doc_of({30, 31, 32, 33, 34}, {0, 1, 1, 1, 1})};
  const PackedDataset ds(docs, 3);  // 12 tokens -> 3 windows of 4
  EXPECT_EQ(ds.size(), 3u);
  EXPECT_EQ(ds.num_tokens(), 12u);
  int32_t t[3], y[3];
  ds.get(0, t, y);
  EXPECT_EQ(std::vector<int32_t>(t, t + 3), (std::vector<int32_t>{10, 11, 12}));
  EXPECT_EQ(std::vector<int32_t>(y, y + 3), (std::vector<int32_t>{11, 12, 13}));
  ds.get(1, t, y);  // stream 20 21 22 30: 21 and 30 are masked
  EXPECT_EQ(std::vector<int32_t>(t, t + 3), (std::vector<int32_t>{20, 21, 22}));
  EXPECT_EQ(std::vector<int32_t>(y, y + 3), (std::vector<int32_t>{-100, 22, -100}));
  ds.get(2, t, y);
  EXPECT_EQ(std::vector<int32_t>(t, t + 3), (std::vector<int32_t>{31, 32, 33}));
  EXPECT_EQ(std::vector<int32_t>(y, y + 3), (std::vector<int32_t>{32, 33, 34}));
  EXPECT_EQ(PackedDataset(docs, 4).size(), 2u);  // 12 / 5: the 2-token tail is dropped
  EXPECT_EQ(PackedDataset(docs, 12).size(), 0u);
  expect_mentions(error_of([&] { ds.get(3, t, y); }), {"window 3", "3 windows"});
  expect_mentions(error_of([&] { PackedDataset(docs, 0); }), {"data.seq_len"});
  const PackedDataset copy = ds;  // copies share the stream
  copy.get(2, t, y);
  EXPECT_EQ(y[2], 34);
}

// ---- loader and split ---------------------------------------------------------------------------------------

// 20 windows of seq_len 4 whose first token is the window index.
PackedDataset numbered_windows(size_t n, int seq_len) {
  Document d;
  for (size_t w = 0; w < n; ++w)
    for (int t = 0; t <= seq_len; ++t) {
      d.tokens.push_back(static_cast<int32_t>(t == 0 ? w : 1000 + t));
      d.mask.push_back(1);
    }
  return PackedDataset({d}, seq_len);
}

std::vector<int32_t> take(DataLoader& dl, int batches, int seq_len) {  // the window ids of the next batches
  std::vector<int32_t> out;
  std::vector<int32_t> t(dl.micro_batch() * seq_len), y(t.size());
  for (int b = 0; b < batches; ++b) {
    dl.next_batch(t.data(), y.data());
    for (int i = 0; i < dl.micro_batch(); ++i) {
      out.push_back(t[i * seq_len]);
      EXPECT_EQ(y[i * seq_len], 1001);
    }
  }
  return out;
}

std::vector<size_t> iota(size_t n) {
  std::vector<size_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = i;
  return v;
}

TEST_F(Data, LoaderShufflesEachEpochDeterministically) {
  const PackedDataset ds = numbered_windows(20, 4);
  const std::vector<size_t> idx = {1, 3, 4, 7, 8, 9, 12, 15, 18, 19};
  DataLoader a(ds, idx, 5, 42, true), b(ds, idx, 5, 42, true), c(ds, idx, 5, 43, true);
  const auto sa = take(a, 6, 4);  // 3 epochs
  EXPECT_EQ(sa, take(b, 6, 4));
  EXPECT_NE(sa, take(c, 6, 4));
  for (int e = 0; e < 3; ++e) {  // each epoch is a permutation of the indices
    std::vector<int32_t> ep(sa.begin() + e * 10, sa.begin() + e * 10 + 10);
    std::sort(ep.begin(), ep.end());
    EXPECT_EQ(std::vector<size_t>(ep.begin(), ep.end()), idx);
  }
  EXPECT_NE(std::vector<int32_t>(sa.begin(), sa.begin() + 10), std::vector<int32_t>(sa.begin() + 10, sa.begin() + 20));
  EXPECT_EQ(a.state().epoch, 2u);
  EXPECT_EQ(a.state().cursor, 10u);
  DataLoader seq(ds, idx, 4, 42, false);  // sequential, crossing the epoch mid-batch
  const auto ss = take(seq, 3, 4);
  EXPECT_EQ(ss, (std::vector<int32_t>{1, 3, 4, 7, 8, 9, 12, 15, 18, 19, 1, 3}));
  EXPECT_EQ(seq.state().epoch, 1u);
  EXPECT_EQ(seq.state().cursor, 2u);
}

TEST_F(Data, LoaderRestoresExactlyMidEpochAndAcrossEpochs) {
  const PackedDataset ds = numbered_windows(23, 4);
  for (const int skip : {1, 2, 3, 5, 6}) {  // 3 windows per batch over 23: states mid-epoch and past boundaries
    DataLoader orig(ds, iota(23), 3, 7, true);
    take(orig, skip, 4);
    const LoaderState saved = orig.state();
    const auto expected = take(orig, 20, 4);
    DataLoader resumed(ds, iota(23), 3, 7, true);
    take(resumed, 2, 4);  // a different position (and a cached permutation) that restore must override
    resumed.restore(saved);
    EXPECT_EQ(take(resumed, 20, 4), expected) << "skip " << skip;
  }
  DataLoader dl(ds, iota(23), 3, 7, true);
  const auto first = take(dl, 4, 4);
  dl.reset();
  EXPECT_EQ(take(dl, 4, 4), first);
  // (epoch, n) and (epoch + 1, 0) are the same point.
  DataLoader end_of_epoch(ds, iota(23), 3, 7, true), next_epoch(ds, iota(23), 3, 7, true);
  end_of_epoch.restore({4, 23});
  next_epoch.restore({5, 0});
  EXPECT_EQ(take(end_of_epoch, 10, 4), take(next_epoch, 10, 4));
  expect_mentions(error_of([&] { dl.restore({0, 24}); }), {"cursor 24", "23 windows"});
  expect_mentions(error_of([&] { DataLoader(ds, {}, 2, 1, true); }), {"at least one window"});
  expect_mentions(error_of([&] { DataLoader(ds, {23}, 2, 1, true); }), {"window index 23"});
}

TEST_F(Data, SplitSizesAndDisjointness) {
  for (const size_t n : {2u, 3u, 10u, 101u, 1000u})
    for (const double f : {0.0, 0.01, 0.05, 0.3, 0.5}) {
      const Split s = split_windows(n, f, 9);
      size_t want = static_cast<size_t>(std::llround(static_cast<double>(n) * f));
      if (f > 0) want = std::max<size_t>(want, 1);
      want = std::min(want, n - 1);
      EXPECT_EQ(s.eval.size(), want) << n << " " << f;
      EXPECT_EQ(s.train.size() + s.eval.size(), n);
      EXPECT_TRUE(std::is_sorted(s.train.begin(), s.train.end()));
      EXPECT_TRUE(std::is_sorted(s.eval.begin(), s.eval.end()));
      std::set<size_t> all(s.train.begin(), s.train.end());
      all.insert(s.eval.begin(), s.eval.end());
      EXPECT_EQ(all.size(), n);
      EXPECT_LT(*all.rbegin(), n);
    }
  EXPECT_EQ(split_windows(1000, 0.05, 9).eval, split_windows(1000, 0.05, 9).eval);
  EXPECT_NE(split_windows(1000, 0.05, 9).eval, split_windows(1000, 0.05, 10).eval);
  EXPECT_NE(split_windows(1000, 0.05, 9).eval.back(), 999u);  // held out at random, not the tail
  EXPECT_EQ(split_windows(1, 0.5, 1).train.size(), 1u);
  EXPECT_TRUE(split_windows(0, 0.5, 1).train.empty());
}

// ---- synthetic stories --------------------------------------------------------------------------------------

TEST_F(Data, SyntheticStoriesAreDeterministicAndShaped) {
  const auto a = synthetic_documents(200, 5, tok_), b = synthetic_documents(200, 5, tok_),
             c = synthetic_documents(200, 6, tok_);
  ASSERT_EQ(a.size(), 200u);
  std::set<std::string> distinct;
  bool differs = false;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].tokens, b[i].tokens);
    differs = differs || a[i].tokens != c[i].tokens;
    const std::string text = tok_.decode(a[i].tokens);
    EXPECT_GE(text.size(), 200u) << text;
    EXPECT_LE(text.size(), 600u) << text;
    EXPECT_EQ(text.rfind("Once upon a time", 0), 0u) << text;
    EXPECT_EQ(text.substr(text.size() - 8), "The end.");
    EXPECT_EQ(text.find('{'), std::string::npos) << text;
    EXPECT_EQ(a[i].tokens.front(), tok_.bos_id());
    EXPECT_EQ(a[i].tokens.back(), tok_.eos_id());
    EXPECT_EQ(a[i].mask, text_mask(a[i].tokens.size()));
    distinct.insert(text);
  }
  EXPECT_TRUE(differs);
  EXPECT_GT(distinct.size(), 190u);
}

// ---- load_training_data -------------------------------------------------------------------------------------

TEST_F(Data, LoadSyntheticWithSplit) {
  DataSection cfg;
  cfg.train = "synthetic";
  cfg.synthetic_documents = 300;
  cfg.seq_len = 32;
  const TrainingData td = load_training_data(cfg, 4, 512);
  EXPECT_EQ(td.num_documents, 300u);
  const size_t n = td.train_set.size();
  EXPECT_EQ(n, td.train_set.num_tokens() / 33);
  EXPECT_EQ(td.eval_set.size(), n);
  EXPECT_EQ(td.eval_windows.size(), static_cast<size_t>(std::llround(n * 0.05)));
  EXPECT_EQ(td.train_windows.size() + td.eval_windows.size(), n);
  const std::string d = td.describe();
  const std::string windows = std::to_string(td.train_windows.size()) + " train / " +
                              std::to_string(td.eval_windows.size()) + " eval windows of 32";
  expect_mentions(d, {"synthetic: 300 docs", "k tokens", windows});
  const TrainingData again = load_training_data(cfg, 4, 512);
  EXPECT_EQ(again.eval_windows, td.eval_windows);
}

TEST_F(Data, LoadWithSeparateEvalFile) {
  DataSection cfg;
  cfg.train = write("train.jsonl", "{\"text\": \"" + std::string(200, 'a') + "\"}\n");
  cfg.eval = write("eval.txt", std::string(100, 'b'));
  cfg.seq_len = 16;
  const TrainingData td = load_training_data(cfg, 2, 258);
  EXPECT_EQ(td.train_windows.size(), 202u / 17);
  EXPECT_EQ(td.eval_windows.size(), 102u / 17);
  EXPECT_EQ(td.eval_set.size(), 102u / 17);
  expect_mentions(td.describe(), {"train.jsonl: 1 docs, 202 tokens", "(eval: " + cfg.eval + ")"});
}

TEST_F(Data, LoadErrors) {
  DataSection cfg;
  cfg.seq_len = 16;
  cfg.train = path("missing.txt");
  expect_mentions(error_of([&] { load_training_data(cfg, 1, 512); }), {"data.train", path("missing.txt")});
  cfg.train = write("tiny.txt", "hello");
  expect_mentions(error_of([&] { load_training_data(cfg, 1, 512); }),
                  {"data.train", "tiny.txt", "7 tokens", "data.seq_len"});
  cfg.train = write("two.txt", std::string(32, 'x'));  // 34 tokens: 2 windows of 17, split 1 / 1
  expect_mentions(error_of([&] { load_training_data(cfg, 2, 512); }),
                  {"data.train", "1 training sequences", "train.micro_batch = 2"});
  EXPECT_EQ(load_training_data(cfg, 1, 512).train_windows.size(), 1u);
  cfg.eval = path("missing_eval.txt");
  expect_mentions(error_of([&] { load_training_data(cfg, 1, 512); }), {"data.eval", "missing_eval.txt"});
  cfg.eval = write("short_eval.txt", "x");
  expect_mentions(error_of([&] { load_training_data(cfg, 1, 512); }), {"data.eval", "short_eval.txt", "3 tokens"});
  cfg.eval.clear();
  expect_mentions(error_of([&] { load_training_data(cfg, 1, 100); }), {"data.tokenizer", "258", "100"});
  cfg.tokenizer = "gpt2";
  expect_mentions(error_of([&] { load_training_data(cfg, 1, 512); }), {"data.tokenizer", "'gpt2'"});
  cfg.tokenizer = "byte";
  cfg.train = dir_;
  expect_mentions(error_of([&] { load_training_data(cfg, 1, 512); }), {"data.train", "folder"});
  cfg.train = "";
  expect_mentions(error_of([&] { load_training_data(cfg, 1, 512); }), {"data.train", "synthetic"});
}

}  // namespace
}  // namespace strata
