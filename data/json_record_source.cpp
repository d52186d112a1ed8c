// The record source of JSON dataset files: an LMFlow object {"type": ..., "instances": [...]} or an Alpaca array
// [...]. A small scanner walks the structure around the records and cuts out each array element's raw JSON, so a
// file of any size streams with one record in memory; the elements themselves are parsed by RecordEncoder.
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "data/record_source.h"

namespace strata {
namespace {

// Buffered byte reads that know their file offset and line, and can seek back.
class ByteReader {
 public:
  explicit ByteReader(const std::string& path) : in_(path, std::ios::binary), buf_(size_t(1) << 20) {}
  bool is_open() const { return static_cast<bool>(in_); }
  int peek() {
    if (pos_ == len_ && !fill()) return -1;
    return static_cast<unsigned char>(buf_[pos_]);
  }
  int get() {
    const int c = peek();
    if (c >= 0) {
      ++pos_;
      if (c == '\n') ++line_;
    }
    return c;
  }
  uint64_t offset() const { return base_ + pos_; }
  size_t line() const { return line_; }
  void seek(uint64_t offset, size_t line) {
    in_.clear();
    in_.seekg(static_cast<std::streamoff>(offset));
    base_ = offset;
    pos_ = len_ = 0;
    line_ = line;
  }
  bool bad() const { return in_.bad(); }

 private:
  bool fill() {
    base_ += len_;
    pos_ = len_ = 0;
    if (!in_) return false;
    in_.read(buf_.data(), static_cast<std::streamsize>(buf_.size()));
    len_ = static_cast<size_t>(in_.gcount());
    return len_ > 0;
  }

  std::ifstream in_;
  std::vector<char> buf_;
  size_t pos_ = 0, len_ = 0, line_ = 1;
  uint64_t base_ = 0;
};

std::string describe_char(int c) {
  if (c < 0) return "the end of the file";
  if (c >= 0x20 && c < 0x7f) return std::string("'") + static_cast<char>(c) + "'";
  return "byte " + std::to_string(c);
}

const char* kLmflowShape = "{\"type\": \"text_only\" | \"text2text\" | \"conversation\", \"instances\": [...]}";
const char* kAlpacaShape = "[{\"instruction\": \"...\", \"input\": \"...\", \"output\": \"...\"}, ...]";

class JsonSource final : public RecordSource {
 public:
  JsonSource(const std::string& path, DataFormat expect) : path_(path), r_(path) {
    if (!r_.is_open()) {
      const int err = errno;
      STRATA_USER_FAIL("cannot open " + path + ": " + (err ? std::strerror(err) : "unreadable") +
                       "; check the path and its permissions");
    }
    skip_ws();
    const int c = r_.peek();
    if (c == '[') {
      STRATA_USER_CHECK(
          expect != DataFormat::Lmflow,
          path + ": an LMFlow dataset is a JSON object " + kLmflowShape +
              ", found an array (an Alpaca "
              "dataset is an array: use data.format = \"alpaca\" or \"auto\"; for one JSON object per line use "
              "a .jsonl file or data.format = \"jsonl\")");
      kind_ = RecordKind::kAlpaca;
      r_.get();
      state_ = State::kFirst;
    } else if (c == '{') {
      STRATA_USER_CHECK(expect != DataFormat::Alpaca,
                        path + ": an Alpaca dataset is a JSON array " + kAlpacaShape +
                            ", found an object (an LMFlow dataset is an object: use data.format = "
                            "\"lmflow\" or \"auto\")");
      object_ = true;
      r_.get();
      read_lmflow_header();
    } else {
      fail(c < 0 ? "not valid JSON: the file is empty; a .json dataset is an LMFlow object " +
                       std::string(kLmflowShape) + " or an Alpaca array " + kAlpacaShape
                 : "not valid JSON: expected an LMFlow object {...} or an Alpaca array [...], found " +
                       describe_char(c));
    }
  }

  bool next(Record& rec) override {
    if (state_ == State::kDone) return false;
    skip_ws();
    if (state_ == State::kNext) {
      const int c = r_.get();
      if (c != ',' && c != ']')
        fail("not valid JSON: expected ',' or ']' after " + element_name() + " " + std::to_string(index_ - 1) +
             ", found " + describe_char(c));
      if (c == ']') return end_array();
      skip_ws();
    } else if (r_.peek() == ']') {
      r_.get();
      return end_array();
    }
    rec.line = r_.line();
    rec.text.clear();
    scan_value(&rec.text);
    rec.index = index_++;
    state_ = State::kNext;
    bytes_ = r_.offset();
    return true;
  }

 private:
  enum class State { kFirst, kNext, kDone };

  [[noreturn]] void fail(const std::string& what) const {
    STRATA_USER_FAIL(path_ + ":" + std::to_string(r_.line()) + " (byte " + std::to_string(r_.offset()) + "): " + what);
  }
  std::string element_name() const { return kind_ == RecordKind::kAlpaca ? "record" : "instance"; }

  void skip_ws() {
    for (int c = r_.peek(); c == ' ' || c == '\t' || c == '\n' || c == '\r'; c = r_.peek()) r_.get();
  }
  void expect(int want, const std::string& context) {
    skip_ws();
    const int c = r_.get();
    if (c != want)
      fail("not valid JSON: expected '" + std::string(1, static_cast<char>(want)) + "' " + context + ", found " +
           describe_char(c));
  }

  // A string with its quotes, escapes kept as they are.
  void scan_string(std::string* out) {
    r_.get();  // the opening quote
    if (out) out->push_back('"');
    for (;;) {
      const int c = r_.get();
      if (c < 0) fail("not valid JSON: the file ends inside a string");
      if (out) out->push_back(static_cast<char>(c));
      if (c == '"') return;
      if (c == '\\') {
        const int e = r_.get();
        if (e < 0) fail("not valid JSON: the file ends inside a string");
        if (out) out->push_back(static_cast<char>(e));
      }
    }
  }

  // One JSON value as raw text; only the bracket structure is checked here, the content by the JSON parser later.
  void scan_value(std::string* out) {
    skip_ws();
    int c = r_.peek();
    if (c == '"') return scan_string(out);
    if (c == '{' || c == '[') {
      int depth = 0;
      do {
        c = r_.peek();
        if (c < 0) fail("not valid JSON: the file ends inside an object or array");
        if (c == '"') {
          scan_string(out);
          continue;
        }
        r_.get();
        if (out) out->push_back(static_cast<char>(c));
        if (c == '{' || c == '[') ++depth;
        else if (c == '}' || c == ']') --depth;
      } while (depth > 0);
      return;
    }
    size_t n = 0;
    for (; c >= 0 && c != ',' && c != '}' && c != ']' && c != ' ' && c != '\t' && c != '\n' && c != '\r';
         c = r_.peek(), ++n) {
      r_.get();
      if (out) out->push_back(static_cast<char>(c));
    }
    if (n == 0) fail("not valid JSON: expected a value, found " + describe_char(c));
  }

  std::string read_key() {
    skip_ws();
    if (r_.peek() != '"') fail("not valid JSON: expected a key string, found " + describe_char(r_.peek()));
    std::string raw;
    scan_string(&raw);
    try {
      return nlohmann::json::parse(raw).get<std::string>();
    } catch (const nlohmann::json::exception& e) {
      fail(std::string("not valid JSON: bad key string (") + e.what() + ")");
    }
  }

  // Walks the top-level object up to the "instances" array, or to its end when "type" comes after the array
  // (then it seeks back). Leaves the reader just inside the array.
  void read_lmflow_header() {
    std::optional<std::string> type;
    bool seen_instances = false;
    skip_ws();
    if (r_.peek() == '}') r_.get();
    else
      for (;;) {
        const std::string key = read_key();
        expect(':', "after the key \"" + key + "\"");
        skip_ws();
        if (key == "instances" && !seen_instances) {
          if (r_.peek() != '[')
            fail("\"instances\" must be an array; an LMFlow dataset is " + std::string(kLmflowShape));
          seen_instances = true;
          instances_at_ = r_.offset();
          instances_line_ = r_.line();
          if (type) return start_instances(*type);
          scan_value(nullptr);
        } else if (key == "type" && !type) {
          std::string raw;
          scan_value(&raw);
          nlohmann::json v;
          try {
            v = nlohmann::json::parse(raw);
          } catch (const nlohmann::json::exception& e) {
            fail(std::string("not valid JSON (") + e.what() + ")");
          }
          if (!v.is_string()) fail("\"type\" is not a string; an LMFlow dataset is " + std::string(kLmflowShape));
          type = v.get<std::string>();
        } else {
          scan_value(nullptr);
        }
        skip_ws();
        const int c = r_.get();
        if (c == '}') break;
        if (c != ',') fail("not valid JSON: expected ',' or '}' after the value of \"" + key + "\", found " +
                           describe_char(c));
      }
    STRATA_USER_CHECK(type, path_ + ": missing \"type\"; an LMFlow dataset is " + kLmflowShape);
    STRATA_USER_CHECK(seen_instances, path_ + ": missing \"instances\" array; an LMFlow dataset is " + kLmflowShape);
    check_trailing();
    r_.seek(instances_at_, instances_line_);
    start_instances(*type);
  }

  void start_instances(const std::string& type) {
    if (type == "text_only") kind_ = RecordKind::kTextOnly;
    else if (type == "text2text") kind_ = RecordKind::kText2Text;
    else if (type == "conversation") kind_ = RecordKind::kConversation;
    else
      STRATA_USER_FAIL(path_ + ": LMFlow type \"" + type + "\" is not supported" +
                       (type == "paired_conversation" ? " (it holds preference pairs for DPO-style training)" : "") +
                       "; use \"text_only\", \"text2text\" or \"conversation\"");
    r_.get();  // '['
    state_ = State::kFirst;
  }

  // After the array: the rest of the top-level object (LMFlow) and nothing but white space after the value.
  bool end_array() {
    state_ = State::kDone;
    if (object_) {
      for (;;) {
        skip_ws();
        const int c = r_.get();
        if (c == '}') break;
        if (c != ',') fail("not valid JSON: expected ',' or '}' after \"instances\", found " + describe_char(c));
        const std::string key = read_key();
        expect(':', "after the key \"" + key + "\"");
        scan_value(nullptr);
      }
    }
    check_trailing();
    bytes_ = r_.offset();
    return false;
  }

  void check_trailing() {
    skip_ws();
    if (r_.peek() >= 0)
      fail("not valid JSON: more data after the top-level value, found " + describe_char(r_.peek()) +
           " (a .json dataset is one JSON value; for one JSON object per line use a .jsonl file or data.format = "
           "\"jsonl\")");
    if (r_.bad()) STRATA_USER_FAIL("cannot read " + path_ + ": read error");
  }

  std::string path_;
  ByteReader r_;
  bool object_ = false;
  State state_ = State::kDone;
  size_t index_ = 0, instances_line_ = 1;
  uint64_t instances_at_ = 0;
};

}  // namespace

std::unique_ptr<RecordSource> open_json_source(const std::string& path, DataFormat json_expect) {
  return std::make_unique<JsonSource>(path, json_expect);
}

}  // namespace strata
