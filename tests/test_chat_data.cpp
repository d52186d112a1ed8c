// Tests of instruction data: exact token/mask layouts of the llama2 and chatml templates (byte tokenizer, fake
// tokenizers with special tokens or a dummy prefix, LLaMA-2's SentencePiece), LMFlow conversation and Alpaca records,
// every malformed-record error and the skip+count path, masks across packed or padded documents, the streaming
// token file writer, and the tokenize pipeline (same output for 1 and 4 threads, same documents as read_documents).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "core/check.h"
#include "data/chat_template.h"
#include "data/dataset_readers.h"
#include "data/packed_dataset.h"
#include "data/token_file_writer.h"
#include "data/tokenize_pipeline.h"
#include "tokenizer/tokenizer.h"
#include "data/training_data.h"
#include "tests/support/temp_dir.h"

namespace strata {
namespace {

namespace fs = std::filesystem;
using test::error_of;

constexpr int kImStart = 300, kImEnd = 301, kSpace = 299;

// Bytes as ids like ByteTokenizer, plus <|im_start|> / <|im_end|> as special tokens, a configurable BOS/EOS (-1:
// none), and optionally SentencePiece's dummy prefix: every encode() call starts with a word boundary and spaces
// become that boundary id.
class FakeTokenizer final : public Tokenizer {
 public:
  FakeTokenizer(int bos, int eos, bool specials, bool dummy_prefix)
      : bos_(bos), eos_(eos), specials_(specials), dummy_prefix_(dummy_prefix) {}
  std::string name() const override { return "fake"; }
  int vocab_size() const override { return 302; }
  int bos_id() const override { return bos_; }
  int eos_id() const override { return eos_; }
  void encode(std::string_view text, std::vector<int32_t>& out) const override {
    if (dummy_prefix_) out.push_back(kSpace);
    for (const char c : text)
      out.push_back(dummy_prefix_ && c == ' ' ? kSpace : static_cast<int32_t>(static_cast<unsigned char>(c)));
  }
  std::string decode(const std::vector<int32_t>&) const override { return ""; }
  int piece_to_id(const std::string& piece) const override {
    if (!specials_) return -1;
    if (piece == "<|im_start|>") return kImStart;
    if (piece == "<|im_end|>") return kImEnd;
    return -1;
  }

 private:
  int bos_, eos_;
  bool specials_, dummy_prefix_;
};

// Builds an expected Document piece by piece.
struct Expect {
  const Tokenizer& tok;
  Document doc;
  Expect& text(const std::string& s, bool loss) {
    tok.encode(s, doc.tokens);
    doc.mask.resize(doc.tokens.size(), loss ? 1 : 0);
    return *this;
  }
  Expect& id(int id, bool loss) {
    doc.tokens.push_back(id);
    doc.mask.push_back(loss ? 1 : 0);
    return *this;
  }
};

void expect_doc(const Document& got, const Document& want, const std::string& what) {
  EXPECT_EQ(got.tokens, want.tokens) << what;
  EXPECT_EQ(got.mask, want.mask) << what;
}

void expect_mentions(const std::string& msg, std::initializer_list<std::string> parts) {
  ASSERT_FALSE(msg.empty()) << "expected an error";
  EXPECT_EQ(msg.find('\n'), std::string::npos) << "an error is one line: " << msg;
  for (const std::string& part : parts)
    EXPECT_NE(msg.find(part), std::string::npos) << "missing '" << part << "' in: " << msg;
}

class ChatData : public ::testing::Test {
 protected:
  std::string write(const std::string& name, const std::string& text) const {
    const std::string p = dir_ / name;
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }
  std::vector<Document> read(const std::string& path, const std::string& format, const std::string& chat,
                             const Tokenizer& tok, ReadStats* stats = nullptr, bool skip = false) const {
    ReadOptions o;
    o.format = parse_enum<DataFormat>(format, "format");
    o.chat_template = parse_enum<ChatTemplateKind>(chat, "chat_template");
    o.skip_bad_records = skip;
    return read_documents(path, o, tok, stats);
  }

  test::TempDir dir_;
  ByteTokenizer byte_;
};

const char* kTwoTurns = R"({"type": "conversation", "instances": [
  {"conversation_id": 7, "system": "Be brief.", "tools": [""], "messages": [
    {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"},
    {"role": "user", "content": "Bye"}, {"role": "assistant", "content": "Ciao"}]}]})";

// ---- templates ----------------------------------------------------------------------------------------------

TEST_F(ChatData, Llama2MultiTurnWithSystemPrompt) {
  const auto docs = read(write("c.json", kTwoTurns), "auto", "llama2", byte_);
  ASSERT_EQ(docs.size(), 1u);
  Expect e{byte_, {}};
  e.id(256, false).text("[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST]", false).text(" Hello ", true).id(257, true);
  e.id(256, false).text("[INST] Bye [/INST]", false).text(" Ciao ", true).id(257, true);
  expect_doc(docs[0], e.doc, "llama2");
}

TEST_F(ChatData, Llama2LeavesTheReplySpaceToADummyPrefixTokenizer) {
  const FakeTokenizer sp(1, 2, false, true);
  Conversation c;
  c.turns = {{"Hi", "Hello"}};
  Document got;
  ChatTemplate(ChatTemplateKind::Llama2, sp).render(c, got);
  // [INST] Hi [/INST] then "Hello " encoded on its own: the tokenizer's word boundary is the space after [/INST].
  Expect e{sp, {}};
  e.id(1, false).text("[INST] Hi [/INST]", false).text("Hello ", true).id(2, true);
  expect_doc(got, e.doc, "dummy prefix");
  EXPECT_EQ(std::count(got.tokens.begin(), got.tokens.end(), kSpace), 5);  // [INST]_Hi_[/INST]_Hello_
}

TEST_F(ChatData, ChatmlAsTextWithTheByteTokenizer) {
  const auto docs = read(write("c.json", kTwoTurns), "lmflow", "chatml", byte_);
  ASSERT_EQ(docs.size(), 1u);
  Expect e{byte_, {}};
  e.id(256, false)
      .text("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", false)
      .text("Hello<|im_end|>", true)
      .text("\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n", false)
      .text("Ciao<|im_end|>", true)
      .text("\n", false);
  expect_doc(docs[0], e.doc, "chatml text");
}

TEST_F(ChatData, ChatmlSpecialTokensAsIds) {
  for (const int bos : {-1, 1}) {
    const FakeTokenizer tok(bos, 2, true, false);
    const auto docs = read(write("c.json", kTwoTurns), "auto", "chatml", tok);
    ASSERT_EQ(docs.size(), 1u);
    Expect e{tok, {}};
    if (bos >= 0) e.id(bos, false);  // a BOS only when the tokenizer has one
    e.id(kImStart, false).text("system\nBe brief.", false).id(kImEnd, false).text("\n", false);
    e.id(kImStart, false).text("user\nHi", false).id(kImEnd, false).text("\n", false);
    e.id(kImStart, false).text("assistant\n", false).text("Hello", true).id(kImEnd, true).text("\n", false);
    e.id(kImStart, false).text("user\nBye", false).id(kImEnd, false).text("\n", false);
    e.id(kImStart, false).text("assistant\n", false).text("Ciao", true).id(kImEnd, true).text("\n", false);
    expect_doc(docs[0], e.doc, "chatml ids, bos " + std::to_string(bos));
  }
}

TEST_F(ChatData, SystemMessageTrailingUserAndMissingSystem) {
  // A leading system message is the system prompt; a last user message without a reply is dropped (LMFlow).
  const auto a = read(write("a.json", R"({"type": "conversation", "instances": [
    {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                  {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "Bye"},
                  {"role": "assistant", "content": "Ciao"}, {"role": "user", "content": "unanswered"}]}]})"),
                      "auto", "llama2", byte_);
  const auto b = read(write("b.json", kTwoTurns), "auto", "llama2", byte_);
  ASSERT_EQ(a.size(), 1u);
  expect_doc(a[0], b[0], "system message == system field");
  const auto none = read(write("n.json", R"({"type": "conversation", "instances": [{"system": "", "messages": [
    {"role": "user", "content": "Hi"}, {"role": "assistant", "content": ""}]}]})"),
                         "auto", "llama2", byte_);
  Expect e{byte_, {}};
  e.id(256, false).text("[INST] Hi [/INST]", false).text("  ", true).id(257, true);
  expect_doc(none.at(0), e.doc, "no system, empty reply");
}

TEST_F(ChatData, AlpacaWithAndWithoutInput) {
  const auto p = write("alpaca.json", R"([
    {"instruction": "Add.", "input": "1 2", "output": "3"},
    {"instruction": "Greet.", "input": "", "output": "Hi"},
    {"instruction": "Greet.", "output": "Hi"}])");
  const auto docs = read(p, "auto", "llama2", byte_);  // a .json array is Alpaca
  ASSERT_EQ(docs.size(), 3u);
  Expect with{byte_, {}};
  with.id(256, false).text("[INST] Add.\n\n1 2 [/INST]", false).text(" 3 ", true).id(257, true);
  expect_doc(docs[0], with.doc, "alpaca with input");
  Expect without{byte_, {}};
  without.id(256, false).text("[INST] Greet. [/INST]", false).text(" Hi ", true).id(257, true);
  expect_doc(docs[1], without.doc, "alpaca, empty input");
  expect_doc(docs[2], without.doc, "alpaca, no input");

  const FakeTokenizer tok(-1, 2, true, false);
  const auto chatml = read(p, "alpaca", "chatml", tok);
  Expect c{tok, {}};
  c.id(kImStart, false).text("user\nAdd.\n\n1 2", false).id(kImEnd, false).text("\n", false);
  c.id(kImStart, false).text("assistant\n", false).text("3", true).id(kImEnd, true).text("\n", false);
  expect_doc(chatml.at(0), c.doc, "alpaca chatml");
}

TEST_F(ChatData, TextFormatsExactAndWithoutBos) {
  const FakeTokenizer no_bos(-1, 2, false, false);
  const auto t2t = read(write("t.json", R"({"instances": [{"input": "Q", "output": "A"}], "type": "text2text"})"),
                        "auto", "llama2", no_bos);  // "type" after "instances"
  Expect e{no_bos, {}};
  e.text("Q", false).text("A", true).id(2, true);
  expect_doc(t2t.at(0), e.doc, "text2text without BOS");
  const auto jl = read(write("d.jsonl", "{\"text\": \"ab\"}\n"), "auto", "llama2", no_bos);
  Expect j{no_bos, {}};
  j.text("ab", true).id(2, true);
  expect_doc(jl.at(0), j.doc, "jsonl without BOS");
  const auto txt = read(write("d.txt", "ab\ncd"), "auto", "llama2", byte_);
  Expect t{byte_, {}};
  t.id(256, false).text("ab\ncd", true).id(257, true);
  expect_doc(txt.at(0), t.doc, "text");
}

TEST_F(ChatData, Llama2MatchesMetaLayoutWithTheRealTokenizer) {
  const std::string model = std::string(STRATA_SHARED_DATA_DIR) + "/llama2-tokenizer/tokenizer.model";
  if (!fs::exists(model)) GTEST_SKIP() << model << " is absent";
  std::unique_ptr<Tokenizer> sp;
  const std::string err = error_of([&] { sp = make_tokenizer(model); });
  if (!sp) GTEST_SKIP() << "no SentencePiece tokenizer in this build: " << err;
  Conversation c;
  c.system = "You are terse.";
  c.turns = {{"What is 2+2?", "4."}, {"And 3+3?", "6, of course."}};
  Document got;
  ChatTemplate(ChatTemplateKind::Llama2, *sp).render(c, got);
  // Meta's chat_completion: per turn encode(f"[INST] {user} [/INST] {answer} ", bos=True, eos=True).
  Document want;
  for (size_t i = 0; i < c.turns.size(); ++i) {
    const std::string user = (i == 0 ? "<<SYS>>\n" + c.system + "\n<</SYS>>\n\n" : "") + c.turns[i].user;
    want.tokens.push_back(sp->bos_id());
    sp->encode("[INST] " + user + " [/INST] " + c.turns[i].assistant + " ", want.tokens);
    want.tokens.push_back(sp->eos_id());
  }
  EXPECT_EQ(got.tokens, want.tokens);
  // The loss covers exactly the replies and their EOS.
  std::vector<int32_t> in_loss;
  for (size_t i = 0; i < got.tokens.size(); ++i)
    if (got.mask[i]) in_loss.push_back(got.tokens[i]);
  std::vector<int32_t> replies;
  for (const ChatTurn& t : c.turns) {
    sp->encode(t.assistant + " ", replies);
    replies.push_back(sp->eos_id());
  }
  EXPECT_EQ(in_loss, replies);
}

TEST_F(ChatData, UnknownTemplate) {
  expect_mentions(error_of([&] { parse_enum<ChatTemplateKind>("vicuna", "data.chat_template"); }),
                  {"data.chat_template", "'vicuna'", "chatml"});
}

// ---- malformed records --------------------------------------------------------------------------------------

TEST_F(ChatData, EveryMalformedConversationNamesFileInstanceAndLine) {
  const std::string good = R"({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]})";
  auto err = [&](const std::string& bad) {
    const auto p = write("conv.json", "{\"type\": \"conversation\",\n\"instances\": [\n" + good + ",\n" + bad + "]}");
    return error_of([&] { read(p, "auto", "llama2", byte_); });
  };
  const std::string at = "conv.json: instance 1 (line 4): ";
  const std::string u = R"({"role": "user", "content": "u"})", a = R"({"role": "assistant", "content": "a"})";
  const std::string s = R"({"role": "system", "content": "s"})";
  expect_mentions(err("3"), {at, "expected an object", "number"});
  expect_mentions(err("{\"messages\": [" + u + ", " + a + "]"), {"conv.json", "not valid JSON"});
  expect_mentions(err("{\"msgs\": []}"), {at, "missing \"messages\""});
  expect_mentions(err("{\"messages\": {}}"), {at, "\"messages\" is an object", "expected an array"});
  expect_mentions(err("{\"messages\": []}"), {at, "\"messages\" is empty"});
  expect_mentions(err("{\"messages\": [\"hi\"]}"), {at, "message 0:", "expected an object", "string"});
  expect_mentions(err("{\"messages\": [{\"content\": \"x\"}]}"), {at, "message 0:", "missing \"role\""});
  expect_mentions(err("{\"messages\": [{\"role\": 1, \"content\": \"x\"}]}"),
                  {at, "message 0:", "\"role\" is a number", "expected a string"});
  expect_mentions(err("{\"messages\": [{\"role\": \"user\"}]}"), {at, "message 0:", "missing \"content\""});
  expect_mentions(err("{\"messages\": [" + u + ", {\"role\": \"assistant\", \"content\": null}]}"),
                  {at, "message 1:", "\"content\" is a null"});
  expect_mentions(err("{\"messages\": [" + u + ", {\"role\": \"gpt\", \"content\": \"x\"}]}"),
                  {at, "message 1:", "unknown role \"gpt\"", "user, assistant and system"});
  expect_mentions(err("{\"messages\": [" + u + ", " + s + "]}"),
                  {at, "message 1:", "system message may only come first"});
  expect_mentions(err("{\"system\": \"x\", \"messages\": [" + s + ", " + u + ", " + a + "]}"),
                  {at, "message 0:", "\"system\" is set too"});
  expect_mentions(err("{\"messages\": [" + u + ", " + u + "]}"),
                  {at, "message 1:", "from the user where the assistant"});
  expect_mentions(err("{\"messages\": [" + a + ", " + u + "]}"),
                  {at, "message 0:", "from the assistant where the user"});
  expect_mentions(err("{\"messages\": [" + u + "]}"), {at, "no assistant reply"});
  expect_mentions(err("{\"messages\": [" + s + "]}"), {at, "no assistant reply"});
  expect_mentions(err("{\"system\": 5, \"messages\": [" + u + ", " + a + "]}"), {at, "\"system\" is a number"});
  expect_mentions(err("{\"tools\": [\"search(q)\"], \"messages\": [" + u + ", " + a + "]}"),
                  {at, "\"tools\" is not empty", "\"system\""});
  expect_mentions(err("{\"tools\": \"x\", \"messages\": [" + u + ", " + a + "]}"), {at, "\"tools\" is a string"});
}

TEST_F(ChatData, MalformedAlpacaAndJsonlRecords) {
  auto alpaca = [&](const std::string& bad) {
    const auto p = write("a.json", "[{\"instruction\": \"i\", \"output\": \"o\"},\n" + bad + "]");
    return error_of([&] { read(p, "auto", "llama2", byte_); });
  };
  const std::string at = "a.json: record 1 (line 2): ";
  expect_mentions(alpaca("[]"), {at, "expected an object", "array"});
  expect_mentions(alpaca("{\"output\": \"o\"}"), {at, "missing \"instruction\""});
  expect_mentions(alpaca("{\"instruction\": \"i\"}"), {at, "missing \"output\""});
  expect_mentions(alpaca("{\"instruction\": \"i\", \"input\": 2, \"output\": \"o\"}"), {at, "\"input\" is a number"});
  expect_mentions(alpaca("{\"instruction\": [], \"output\": \"o\"}"), {at, "\"instruction\" is an array"});
  expect_mentions(alpaca("{\"instruction\": \"i\" \"output\": \"o\"}"), {at, "not valid JSON"});
  expect_mentions(error_of([&] { read(write("x.json", "{\"type\": \"text_only\", \"instances\": []}"), "alpaca",
                                      "llama2", byte_); }),
                  {"x.json", "Alpaca dataset is a JSON array", "lmflow"});

  const auto jl = write("bad.jsonl", "{\"text\": \"ok\"}\n\n{\"text\": 1}\n");
  expect_mentions(error_of([&] { read(jl, "auto", "llama2", byte_); }), {"bad.jsonl:3: record 1: ", "number"});
}

TEST_F(ChatData, BrokenJsonStructureIsFatalEvenWhenSkipping) {
  auto err = [&](const std::string& json) {
    return error_of([&] { read(write("s.json", json), "auto", "llama2", byte_, nullptr, true); });
  };
  expect_mentions(err(""), {"s.json", "empty"});
  expect_mentions(err("{\"type\": \"text_only\", \"instances\": [{\"text\": \"a\"} {\"text\": \"b\"}]}"),
                  {"s.json:1", "expected ',' or ']' after instance 0"});
  expect_mentions(err("{\"type\": \"text_only\", \"instances\": [{\"text\": \"a\"}]} x"),
                  {"s.json:1", "more data after", ".jsonl"});
  expect_mentions(err("[{\"instruction\": \"i\", \"output\": \"o\"}"), {"s.json:1", "expected ',' or ']'"});
  expect_mentions(err("{\"type\": \"text_only\", \"instances\": [{\"text\": \"a}]}"), {"s.json", "inside a string"});
  expect_mentions(err("{\"type\": \"text_only\", \"instances\": {}}"), {"s.json", "\"instances\" must be an array"});
  expect_mentions(err("{\"type\": 3, \"instances\": []}"), {"s.json", "\"type\" is not a string"});
}

TEST_F(ChatData, SkipBadRecordsCountsEveryRecord) {
  const std::string u = R"({"role": "user", "content": "u"})", a = R"({"role": "assistant", "content": "a"})";
  const std::string good = "{\"messages\": [" + u + ", " + a + "]}";
  const auto conv = write("c.json", "{\"type\": \"conversation\", \"instances\": [" + good + ", 5, " + good +
                                        ", {\"messages\": []}, {\"messages\": [" + a + "]}]}");
  ReadStats st;
  const auto docs = read(conv, "auto", "chatml", byte_, &st, true);
  EXPECT_EQ(docs.size(), 2u);
  EXPECT_EQ(st.records, 5u);
  EXPECT_EQ(st.skipped, 3u);
  expect_doc(docs[1], docs[0], "the good records are intact");
  expect_mentions(error_of([&] { read(conv, "auto", "chatml", byte_); }), {"c.json: instance 1 (line 1)"});

  const auto jl = write("d.jsonl", "{\"text\": \"x\"}\nnot json\n{\"txt\": \"y\"}\n\n{\"text\": \"z\"}\n");
  const auto jdocs = read(jl, "auto", "llama2", byte_, &st, true);  // stats accumulate
  EXPECT_EQ(jdocs.size(), 2u);
  EXPECT_EQ(st.records, 9u);
  EXPECT_EQ(st.skipped, 5u);
  const auto al = write("a.json", R"([{"instruction": "i", "output": "o"}, {"instruction": "i"}])");
  ReadStats ast;
  EXPECT_EQ(read(al, "auto", "llama2", byte_, &ast, true).size(), 1u);
  EXPECT_EQ(ast.records, 2u);
  EXPECT_EQ(ast.skipped, 1u);
}

// ---- packing --------------------------------------------------------------------------------------------------

std::vector<int32_t> targets_of(const PackedDataset& ds) {
  std::vector<int32_t> all, t(static_cast<size_t>(ds.seq_len())), y(t.size());
  for (size_t i = 0; i < ds.size(); ++i) {
    ds.get(i, t.data(), y.data());
    all.insert(all.end(), y.begin(), y.end());
  }
  return all;
}

TEST_F(ChatData, PackingNeverPredictsADocumentFromThePreviousOne) {
  // Documents without BOS whose first token is in their own mask (a token file written that way, or a tokenizer
  // without BOS): packed back to back, the first token of B must not be a target predicted from A's end.
  const std::vector<Document> docs = {{{1, 2, 3}, {1, 1, 1}}, {{4, 5}, {1, 1}}, {{6, 7, 8, 9}, {1, 0, 1, 1}}};
  const PackedDataset ds(docs, 4);  // stream 1 2 3 4 5 | 6 7 8 9 -> windows [1..5], and the tail is dropped
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(targets_of(ds), (std::vector<int32_t>{2, 3, -100, 5}));
  const PackedDataset ds2(docs, 1);  // windows of 2: (1,2) (3,4) (5,6) (7,8)
  EXPECT_EQ(targets_of(ds2), (std::vector<int32_t>{2, -100, -100, 8}));

  // Every format, through the readers: in no window is a document's first token a target.
  const FakeTokenizer no_bos(-1, 2, true, false);
  const std::string tokfile = dir_ / "d.tok";
  write_token_file(tokfile, docs);
  const std::vector<std::pair<std::string, std::string>> inputs = {
      {write("t.jsonl", "{\"text\": \"abc\"}\n{\"text\": \"de\"}\n{\"text\": \"fgh\"}\n"), "jsonl"},
      {write("c.json", kTwoTurns), "lmflow"},
      {write("p.json", R"([{"instruction": "i", "output": "o"}, {"instruction": "j", "output": "p"}])"), "alpaca"},
      {tokfile, "tokens"}};
  for (const auto& [path, format] : inputs)
    for (const std::string chat : {"llama2", "chatml"}) {
      const auto d = read(path, format, chat, no_bos);
      std::vector<Document> twice = d;
      twice.insert(twice.end(), d.begin(), d.end());
      std::vector<bool> is_start;
      for (const Document& doc : twice)
        for (size_t i = 0; i < doc.tokens.size(); ++i) is_start.push_back(i == 0);
      for (const int seq_len : {1, 2, 3, 5, 8}) {
        const PackedDataset p(twice, seq_len);
        const auto y = targets_of(p);
        for (size_t w = 0; w < p.size(); ++w)
          for (int t = 0; t < seq_len; ++t) {
            const size_t stream_pos = w * (seq_len + 1) + t + 1;  // the token position t predicts
            if (is_start[stream_pos]) {
              EXPECT_EQ(y[w * seq_len + t], -100) << path << " " << chat << " " << seq_len;
            }
          }
      }
    }
}

TEST_F(ChatData, PaddingInsteadOfPacking) {
  const std::vector<Document> docs = {
      {{1, 2, 3}, {0, 1, 1}}, {{4, 5}, {1, 1}}, {{6, 7, 8, 9, 10, 11}, {0, 1, 1, 1, 1, 1}}};
  const PackedDataset ds(docs, 3, false);  // windows of 4: [1 2 3 0] [4 5 0 0] [6 7 8 9] [10 11 0 0]
  ASSERT_EQ(ds.size(), 4u);
  EXPECT_EQ(ds.num_tokens(), 16u);
  int32_t t[3], y[3];
  ds.get(1, t, y);
  EXPECT_EQ(std::vector<int32_t>(t, t + 3), (std::vector<int32_t>{4, 5, 0}));
  EXPECT_EQ(std::vector<int32_t>(y, y + 3), (std::vector<int32_t>{5, -100, -100}));
  EXPECT_EQ(targets_of(ds), (std::vector<int32_t>{2, 3, -100, 5, -100, -100, 7, 8, 9, 11, -100, -100}));

  DataSection cfg;  // data.pack reaches the loader
  cfg.train = write("d.jsonl", "{\"text\": \"ab\"}\n{\"text\": \"cd\"}\n");
  cfg.seq_len = 7;
  cfg.eval_fraction = 0;
  cfg.pack = false;
  EXPECT_EQ(load_training_data(cfg, 1, 258).train_set.size(), 2u);  // each 4-token document gets its own window
  cfg.pack = true;
  EXPECT_EQ(load_training_data(cfg, 1, 258).train_set.size(), 1u);
}

// ---- streaming token file writer and the tokenize pipeline ---------------------------------------------------

std::string file_bytes(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

size_t files_in(const std::string& dir) {
  return static_cast<size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

TEST_F(ChatData, StreamingWriterRoundTrip) {
  std::vector<Document> docs(4);
  for (int i = 0; i < 700000; ++i) {  // > 1 MiB of ids: buffers flush and the scratch files are copied in
    docs[0].tokens.push_back(i % 70000);
    docs[0].mask.push_back(i % 3 != 0);
  }
  docs[2] = {{5, 6, 7}, {0, 1, 1}};  // docs[1] and docs[3] are empty
  const std::string p = dir_ / "w.tok";
  {
    TokenFileWriter w(p, 4, true);
    for (const Document& d : docs) {  // each document in pieces
      const size_t half = d.tokens.size() / 2;
      w.append(Document{{d.tokens.begin(), d.tokens.begin() + half}, {d.mask.begin(), d.mask.begin() + half}});
      w.append(Document{{d.tokens.begin() + half, d.tokens.end()}, {d.mask.begin() + half, d.mask.end()}});
      w.end_document();
    }
    EXPECT_FALSE(fs::exists(p));  // nothing appears before finish()
    w.finish();
    EXPECT_EQ(w.documents(), 4u);
    EXPECT_EQ(w.tokens(), 700003u);
  }
  const auto back = read_token_file(p);
  ASSERT_EQ(back.size(), docs.size());
  for (size_t d = 0; d < docs.size(); ++d) expect_doc(back[d], docs[d], "doc " + std::to_string(d));
  const std::string q = dir_ / "v.tok";
  write_token_file(q, docs);  // the same bytes as the in-memory writer picks (4 bytes per id, a mask)
  EXPECT_EQ(file_bytes(p), file_bytes(q));
  EXPECT_EQ(files_in(dir_.path()), 2u);  // no temp files left

  {  // abandoned and failing writers leave nothing behind
    TokenFileWriter w(dir_ / "gone.tok", 2, false);
    w.add(docs[2]);
    expect_mentions(error_of([&] { w.add({{70000}, {1}}); }), {"gone.tok", "document 1", "70000", "2 bytes"});
    expect_mentions(error_of([&] { w.add({{1, 2}, {1}}); }), {"gone.tok", "mask"});
  }
  EXPECT_EQ(files_in(dir_.path()), 2u);
}

// JSONL (with malformed and blank lines), a 2.5 MiB text file, an LMFlow conversation file (with malformed
// instances) and an Alpaca file; `write(name, text)` returns the path.
std::vector<std::string> make_inputs(const std::function<std::string(const std::string&, const std::string&)>& write) {
  std::string jsonl, big;
  for (int i = 0; i < 3000; ++i) {
    jsonl += "{\"text\": \"record " + std::to_string(i) + " \\u00e9" + std::string(i % 50, 'x') + "\"}\n";
    if (i % 500 == 7) jsonl += "{\"txt\": \"bad\"}\n\n";  // malformed (skipped) and blank lines
  }
  for (int i = 0; big.size() < (5u << 19); ++i) big += "line " + std::to_string(i) + (i % 5 ? " " : "\n");
  std::string conv = "{\"type\": \"conversation\", \"instances\": [\n";
  for (int i = 0; i < 400; ++i)
    conv += std::string(i ? ",\n" : "") + "{\"system\": \"s" + std::to_string(i % 3) +
            "\", \"messages\": [{\"role\": \"user\", \"content\": \"q" + std::to_string(i) +
            "\"}, {\"role\": \"assistant\", \"content\": \"a" + std::to_string(i) + "\"}]}" +
            (i % 97 == 5 ? ", {\"messages\": []}" : "");
  conv += "]}\n";
  std::string alpaca = "[";
  for (int i = 0; i < 300; ++i)
    alpaca += std::string(i ? "," : "") + "{\"instruction\": \"do " + std::to_string(i) + "\", \"input\": \"" +
              (i % 2 ? "x" : "") + "\", \"output\": \"done\"}";
  alpaca += "]";
  return {write("a.jsonl", jsonl), write("b.txt", big), write("c.json", conv), write("d.json", alpaca)};
}

TEST_F(ChatData, TokenizePipelineMatchesReadDocumentsForAnyThreadCount) {
  const auto paths = make_inputs([&](const std::string& n, const std::string& s) { return write(n, s); });
  TokenizeOptions o;
  o.inputs = paths;
  o.read.chat_template = ChatTemplateKind::Chatml;
  o.read.skip_bad_records = true;
  o.batch_records = 37;  // many small batches, so workers finish out of order
  o.batch_bytes = 100000;
  std::vector<std::string> outputs;
  TokenizeStats first;
  for (const int threads : {1, 4}) {
    o.threads = threads;
    o.out = dir_ / ("out" + std::to_string(threads) + ".tok");
    int calls = 0;
    const TokenizeStats st = tokenize_to_token_file(o, byte_, [&](const TokenizeStats&) { ++calls; }, 0.0);
    EXPECT_GT(calls, 0);
    if (threads == 1) first = st;
    EXPECT_EQ(st.documents, first.documents);
    EXPECT_EQ(st.tokens, first.tokens);
    EXPECT_EQ(st.skipped, first.skipped);
    uint64_t bytes = 0;
    for (const auto& p : paths) bytes += fs::file_size(p);
    EXPECT_EQ(st.bytes, bytes);
    outputs.push_back(file_bytes(o.out));
  }
  EXPECT_EQ(outputs[0], outputs[1]);

  std::vector<Document> want;
  ReadStats rs;
  for (const auto& p : paths) {
    const auto d = read(p, "auto", "chatml", byte_, &rs, true);
    want.insert(want.end(), d.begin(), d.end());
  }
  EXPECT_EQ(first.records, rs.records);
  EXPECT_EQ(first.skipped, rs.skipped);
  EXPECT_EQ(first.skipped, 6u + 5u);
  const auto got = read_token_file(o.out);
  ASSERT_EQ(got.size(), want.size());
  EXPECT_EQ(first.documents, want.size());
  for (size_t d = 0; d < want.size(); ++d) expect_doc(got[d], want[d], "doc " + std::to_string(d));
}

TEST_F(ChatData, TokenizePipelineErrorsLeaveNothingBehind) {
  const auto p = write("bad.jsonl", "{\"text\": \"a\"}\n{\"text\": \"b\"}\n{\"text\": [1]}\n{\"text\": \"c\"}\n");
  const std::string out_dir = dir_ / "out";
  fs::create_directories(out_dir);
  TokenizeOptions o;
  o.inputs = {p};
  o.out = out_dir + "/x.tok";
  o.threads = 3;
  o.batch_records = 1;
  expect_mentions(error_of([&] { tokenize_to_token_file(o, byte_); }), {"bad.jsonl:3: record 2:", "array"});
  EXPECT_EQ(files_in(out_dir), 0u);
  o.inputs = {p, write("t.tok", "")};
  expect_mentions(error_of([&] { tokenize_to_token_file(o, byte_); }), {"t.tok", "token file already"});
  o.inputs = {dir_ / "missing.jsonl"};
  expect_mentions(error_of([&] { tokenize_to_token_file(o, byte_); }), {"cannot open", "missing.jsonl"});
  EXPECT_EQ(files_in(out_dir), 0u);
}

}  // namespace
}  // namespace strata
