// Record sources for plain text (the whole file is one record, up to a size limit) and JSONL (one record per
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
    STRATA_USER_FAIL("cannot open " + path + ": " + (err ? std::strerror(err) : "unreadable") +
                     "; check the path and its permissions");
  }
  return in;
}

std::string size_text(uint64_t bytes) {  // "16 MiB" when whole, else bytes
  constexpr uint64_t kMiB = uint64_t(1) << 20;
  return bytes >= kMiB && bytes % kMiB == 0 ? std::to_string(bytes / kMiB) + " MiB"
                                            : std::to_string(bytes) + " bytes";
}

[[noreturn]] void text_file_too_large(const std::string& path, const std::string& size, size_t max_bytes) {
  STRATA_USER_FAIL(path + ": " + size + " of text, but a text file may hold at most " + size_text(max_bytes) +
                   " (it is one document, tokenized as one string); split it into several text files (one document "
                   "each) or write it as JSONL with one document per line (a .jsonl name, or format jsonl)");
}

// The whole file is one document and so one record: read in 1 MiB reads into one string, which the encoder
// tokenizes in one call. A file over max_bytes is refused by its size when opened, or (a pipe, a growing file)
// as soon as more than max_bytes have been read.
class TextSource final : public RecordSource {
 public:
  TextSource(const std::string& path, size_t max_bytes) : path_(path), in_(open_input(path)), max_bytes_(max_bytes) {
    kind_ = RecordKind::kText;
    std::error_code ec;
    if (std::filesystem::is_regular_file(path, ec)) {
      size_ = std::filesystem::file_size(path, ec);
      if (ec) size_ = 0;
      if (size_ > max_bytes_) text_file_too_large(path_, std::to_string(size_) + " bytes", max_bytes_);
    }
  }
  bool next(Record& r) override {
    if (done_) return false;
    done_ = true;
    r.text.clear();
    r.text.reserve(static_cast<size_t>(size_));
    while (in_) {
      const size_t have = r.text.size();
      const size_t want = std::min(kRead, max_bytes_ + 1 - have);  // one byte over the limit tells it is exceeded
      r.text.resize(have + want);
      in_.read(r.text.data() + have, static_cast<std::streamsize>(want));
      const auto got = static_cast<size_t>(in_.gcount());
      r.text.resize(have + got);
      bytes_ += got;
      if (r.text.size() > max_bytes_) text_file_too_large(path_, "more than " + size_text(max_bytes_), max_bytes_);
    }
    STRATA_USER_CHECK(in_.eof(), "cannot read " + path_ + ": read error after " + std::to_string(bytes_) + " bytes");
    r.index = 0;
    r.line = 1;
    return true;
  }

 private:
  static constexpr size_t kRead = size_t(1) << 20;
  std::string path_;
  std::ifstream in_;
  size_t max_bytes_;
  uint64_t size_ = 0;  // the file's size when it is a regular file (the string is reserved to it), else 0
  bool done_ = false;
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
      return true;
    }
    STRATA_USER_CHECK(in_.eof(), "cannot read " + path_ + ": read error after line " + std::to_string(line_));
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

std::unique_ptr<RecordSource> open_text_source(const std::string& path, size_t max_bytes) {
  return std::make_unique<TextSource>(path, max_bytes);
}
std::unique_ptr<RecordSource> open_jsonl_source(const std::string& path) {
  return std::make_unique<JsonlSource>(path);
}

std::unique_ptr<RecordSource> open_record_source(const std::string& path, DataFormat f) {
  STRATA_USER_CHECK(f != DataFormat::Tokens,
                    path + " is a token file: it holds ids already and has no records to tokenize");
  if (f == DataFormat::Text) return open_text_source(path);
  if (f == DataFormat::Jsonl) return open_jsonl_source(path);
  return open_json_source(path, f);
}

}  // namespace strata
