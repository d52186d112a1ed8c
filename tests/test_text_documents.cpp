// Tests that a plain-text file is one document encoded in one tokenizer call, by read_documents (`strata train`)
// and the tokenize pipeline (`strata tokenize`) alike, whatever its size or final newline, and its size limit.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/check.h"
#include "data/dataset_readers.h"
#include "data/record_source.h"
#include "data/tokenize_pipeline.h"
#include "tests/support/temp_dir.h"
#include "tokenizer/tokenizer.h"

namespace strata {
namespace {

namespace fs = std::filesystem;
using test::error_of;

constexpr int kWordStart = 258;

// Bytes as ids with BOS 256 and EOS 257, and SentencePiece's dummy prefix: every encode() call starts with the
// word-start id, so a document encoded in pieces shows one such id per extra piece.
class DummyPrefixTokenizer final : public Tokenizer {
 public:
  std::string name() const override { return "dummy-prefix"; }
  int vocab_size() const override { return 259; }
  int bos_id() const override { return 256; }
  int eos_id() const override { return 257; }
  void encode(std::string_view text, std::vector<int32_t>& out) const override {
    out.push_back(kWordStart);
    for (const char c : text) out.push_back(static_cast<unsigned char>(c));
  }
  std::string decode(const std::vector<int32_t>&) const override { return ""; }
};

std::unique_ptr<Tokenizer> llama2_tokenizer() {  // nullptr when the shared data or SentencePiece is absent
  const std::string model = std::string(STRATA_SHARED_DATA_DIR) + "/llama2-tokenizer/tokenizer.model";
  if (!fs::exists(model)) return nullptr;
  std::unique_ptr<Tokenizer> tok;
  error_of([&] { tok = make_tokenizer(model); });
  return tok;
}

#define SKIP_WITHOUT_LLAMA2(tok)                                                                             \
  if (!(tok))                                                                                                \
    GTEST_SKIP() << "the LLaMA-2 tokenizer.model (" STRATA_SHARED_DATA_DIR "/llama2-tokenizer) or SentencePiece " \
                    "is not here"

// BOS + the ids of `text` from one encode() call + EOS, BOS out of the loss.
Document one_encode(const Tokenizer& tok, const std::string& text) {
  Document d;
  d.tokens.push_back(tok.bos_id());
  tok.encode(text, d.tokens);
  d.tokens.push_back(tok.eos_id());
  d.mask.assign(d.tokens.size(), 1);
  d.mask[0] = 0;
  return d;
}

void expect_mentions(const std::string& msg, std::initializer_list<std::string> parts) {
  ASSERT_FALSE(msg.empty()) << "expected an error";
  EXPECT_EQ(msg.find('\n'), std::string::npos) << "an error is one line: " << msg;
  for (const std::string& part : parts)
    EXPECT_NE(msg.find(part), std::string::npos) << "missing '" << part << "' in: " << msg;
}

class TextFileData : public ::testing::Test {
 protected:
  std::string write(const std::string& name, const std::string& text) const {
    const std::string p = dir_ / name;
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }
  // The documents of `path` as `strata train` reads them and as `strata tokenize` writes them (on 2 threads).
  std::vector<Document> read(const std::string& path, const Tokenizer& tok) const {
    return read_documents(path, ReadOptions{}, tok);
  }
  std::vector<Document> tokenized(const std::string& path, const Tokenizer& tok) const {
    TokenizeOptions o;
    o.inputs = {path};
    o.out = dir_ / (fs::path(path).filename().string() + ".tok");
    o.threads = 2;
    tokenize_to_token_file(o, tok);
    return read_token_file(o.out);
  }
  // Both paths give exactly the one document `want`.
  void expect_one_document(const std::string& path, const Tokenizer& tok, const Document& want) const {
    for (const bool pipeline : {false, true}) {
      const auto docs = pipeline ? tokenized(path, tok) : read(path, tok);
      const char* how = pipeline ? "strata tokenize" : "read_documents";
      ASSERT_EQ(docs.size(), 1u) << how;
      EXPECT_EQ(docs[0].tokens.size(), want.tokens.size()) << how;
      if (want.tokens.size() <= 64)  // small: print the ids
        EXPECT_EQ(docs[0].tokens, want.tokens) << how;
      else
        EXPECT_TRUE(docs[0].tokens == want.tokens) << how << ": the ids differ from one encode of the whole file";
      EXPECT_TRUE(docs[0].mask == want.mask) << how << ": the loss mask differs";
    }
  }

  test::TempDir dir_;
};

// Text of at least `bytes` bytes in lines, with no newline at the end.
std::string lines_of_text(size_t bytes) {
  std::string text;
  for (int i = 0; text.size() < bytes; ++i) text += "The fox " + std::to_string(i) + (i % 9 ? " jumps. " : " ran.\n");
  text += "and no newline at the end";
  return text;
}

TEST_F(TextFileData, HelloWorldWithoutFinalNewlineMatchesSentencePiece) {
  const auto tok = llama2_tokenizer();
  SKIP_WITHOUT_LLAMA2(tok);
  // python sentencepiece: sp.encode("Hello\nworld") = [15043, 13, 11526]; encoded as "Hello\n" + "world" the second
  // piece got its own dummy prefix: 3186 ("▁world") instead of 11526 ("world").
  Document want;
  want.tokens = {1, 15043, 13, 11526, 2};
  want.mask = {0, 1, 1, 1, 1};
  expect_one_document(write("hello.txt", "Hello\nworld"), *tok, want);
}

TEST_F(TextFileData, FileLargerThanOneReadIsOneEncode) {
  const DummyPrefixTokenizer tok;
  const std::string text = lines_of_text(size_t(5) << 19);  // 2.5 MiB: more than one 1 MiB read
  const Document want = one_encode(tok, text);
  ASSERT_EQ(std::count(want.tokens.begin(), want.tokens.end(), kWordStart), 1);
  expect_one_document(write("big.txt", text), tok, want);
  expect_one_document(write("nl.txt", "a\nb\n"), tok, one_encode(tok, "a\nb\n"));
  expect_one_document(write("empty.txt", ""), tok, one_encode(tok, ""));
}

TEST_F(TextFileData, FileLargerThanOneReadMatchesSentencePieceOnTheWhole) {
  const auto tok = llama2_tokenizer();
  SKIP_WITHOUT_LLAMA2(tok);
  const std::string text = lines_of_text((size_t(1) << 20) + 50000);
  expect_one_document(write("big.txt", text), *tok, one_encode(*tok, text));
}

TEST_F(TextFileData, TextFileOverTheLimitIsRefused) {
  const ByteTokenizer tok;
  const std::string at_limit = write("at.txt", std::string(1000, 'a'));
  Record r;
  auto src = open_text_source(at_limit, 1000);
  ASSERT_TRUE(src->next(r));
  EXPECT_EQ(r.text.size(), 1000u);
  EXPECT_FALSE(src->next(r));

  const std::string over = write("over.txt", std::string(1001, 'a'));
  expect_mentions(error_of([&] { open_text_source(over, 1000); }),
                  {over, "1001 bytes", "at most 1000 bytes", "one document", "split it", "JSONL"});

  // The default limit, by the file's size before anything is read (a sparse file of 16 MiB + 1 byte).
  const std::string huge = dir_ / "huge.txt";
  std::ofstream(huge, std::ios::binary).put('x');
  fs::resize_file(huge, kMaxTextFileBytes + 1);
  for (const bool pipeline : {false, true})
    expect_mentions(error_of([&] { pipeline ? tokenized(huge, tok) : read(huge, tok); }),
                    {huge, std::to_string(kMaxTextFileBytes + 1) + " bytes", "at most 16 MiB", "JSONL"});
  EXPECT_FALSE(fs::exists(huge + ".tok"));

  // A pipe has no size: it is refused once more than the limit has been read (the writer may then see EPIPE).
  std::signal(SIGPIPE, SIG_IGN);
  const std::string fifo = dir_ / "pipe.txt";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::thread writer([&] { std::ofstream(fifo, std::ios::binary) << std::string(3000, 'b'); });
  const std::string err = error_of([&] {
    auto s = open_text_source(fifo, 1000);
    s->next(r);
  });
  writer.join();
  expect_mentions(err, {fifo, "more than 1000 bytes", "at most 1000 bytes"});
}

}  // namespace
}  // namespace strata
