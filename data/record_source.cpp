// Record sources for plain text (the file's one document, cut into pieces at newlines) and JSONL (one record per
// non-blank line), and the format resolution shared by read_documents and `strata tokenize`.
#include "data/record_source.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/check.h"

namespace strata {
namespace {

std::ifstream open_input(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    STRATA_FAIL("cannot open " + path + ": " + (err ? std::strerror(err) : "unreadable") +
                "; check the path and its permissions");
  }
  return in;
}

// The whole file is one document, read in 1 MiB chunks and cut after the last newline of what is pending, so no
// line is split for a tokenizer that merges across bytes; a run of 16 MiB without a newline is cut as it is. The
// final piece (possibly empty) is marked last.
class TextSource final : public RecordSource {
 public:
  explicit TextSource(const std::string& path) : path_(path), in_(open_input(path)), chunk_(kChunk, '\0') {
    kind_ = RecordKind::kText;
  }
  bool next(Record& r) override {
    if (done_) return false;
    while (in_) {
      in_.read(chunk_.data(), static_cast<std::streamsize>(kChunk));
      const auto got = static_cast<size_t>(in_.gcount());
      pending_.append(chunk_.data(), got);
      bytes_ += got;
      const size_t nl = pending_.rfind('\n');
      if (nl != std::string::npos) return emit(r, nl + 1, false);
      if (pending_.size() >= kMaxPending) return emit(r, pending_.size(), false);
    }
    STRATA_CHECK(in_.eof(), "cannot read " + path_ + ": read error after " + std::to_string(bytes_) + " bytes");
    done_ = true;
    return emit(r, pending_.size(), true);
  }

 private:
  static constexpr size_t kChunk = size_t(1) << 20, kMaxPending = size_t(16) << 20;
  bool emit(Record& r, size_t n, bool last) {
    r.text.assign(pending_, 0, n);
    pending_.erase(0, n);
    r.index = 0;
    r.line = line_;
    line_ += static_cast<size_t>(std::count(r.text.begin(), r.text.end(), '\n'));
    r.first = first_;
    r.last = last;
    first_ = false;
    return true;
  }

  std::string path_;
  std::ifstream in_;
  std::string chunk_, pending_;
  size_t line_ = 1;
  bool first_ = true, done_ = false;
};

class JsonlSource final : public RecordSource {
 public:
  explicit JsonlSource(const std::string& path) : path_(path), in_(open_input(path)) { kind_ = RecordKind::kJsonl; }
  bool next(Record& r) override {
    while (std::getline(in_, r.text)) {
      ++line_;
      bytes_ += r.text.size() + 1;
      if (r.text.find_first_not_of(" \t\r\n\f\v") == std::string::npos) continue;
      r.index = index_++;
      r.line = line_;
      r.first = r.last = true;
      return true;
    }
    STRATA_CHECK(in_.eof(), "cannot read " + path_ + ": read error after line " + std::to_string(line_));
    return false;
  }

 private:
  std::string path_;
  std::ifstream in_;
  size_t line_ = 0, index_ = 0;
};

}  // namespace

DataFormat resolve_format(const std::string& path, DataFormat format) {
  if (format != DataFormat::Auto) return format;
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  if (ext == ".tok") return DataFormat::Tokens;
  if (ext == ".jsonl") return DataFormat::Jsonl;
  if (ext == ".json") return DataFormat::Json;
  return DataFormat::Text;
}

std::unique_ptr<RecordSource> open_text_source(const std::string& path) { return std::make_unique<TextSource>(path); }
std::unique_ptr<RecordSource> open_jsonl_source(const std::string& path) {
  return std::make_unique<JsonlSource>(path);
}

std::unique_ptr<RecordSource> open_record_source(const std::string& path, DataFormat f) {
  STRATA_CHECK(f != DataFormat::Tokens, path + " is a token file: it holds ids already and has no records to tokenize");
  if (f == DataFormat::Text) return open_text_source(path);
  if (f == DataFormat::Jsonl) return open_jsonl_source(path);
  return open_json_source(path, f);
}

}  // namespace strata
