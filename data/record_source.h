// RecordSource: reads a dataset file as a stream of raw records (a whole text file, a JSONL line, one element of an
// LMFlow "instances" array or of an Alpaca array) without holding more than a record, for read_documents and the
// parallel tokenize pipeline alike. RecordEncoder (record_encoder.h) turns each record into one document's tokens.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "data/data_config.h"

namespace strata {

enum class RecordKind { kText, kJsonl, kTextOnly, kText2Text, kConversation, kAlpaca };

// One record is one document: it is encoded in one tokenizer call, never in pieces (a SentencePiece tokenizer starts
// every call with a word boundary, so pieces would not give the ids of the whole).
struct Record {
  std::string text;  // the raw bytes: a whole text file, a JSONL line, or the JSON of one array element
  size_t index = 0;  // 0-based record number in the file (JSONL: non-blank lines; JSON: position in the array)
  size_t line = 0;   // 1-based line where the record starts
};

class RecordSource {
 public:
  virtual ~RecordSource() = default;
  RecordKind kind() const { return kind_; }
  // The next record; false at the end of the file. Throws naming the file for what no record can be cut from
  // (unreadable file, broken JSON structure around the records, a missing "type").
  virtual bool next(Record& r) = 0;
  uint64_t bytes_read() const { return bytes_; }  // input bytes consumed so far

 protected:
  RecordKind kind_ = RecordKind::kText;
  uint64_t bytes_ = 0;
};

// format: auto (by extension: .tok -> tokens, .jsonl -> jsonl, .json -> json, anything else -> text) | tokens |
// text | jsonl | lmflow | alpaca; "json" means an LMFlow object or an Alpaca array, whichever the file holds.
DataFormat resolve_format(const std::string& path, DataFormat format);
// Opens `path` in a resolved format other than tokens. LMFlow files are read up to their "instances" first.
std::unique_ptr<RecordSource> open_record_source(const std::string& path, DataFormat resolved_format);
// A text file is one document, so its whole text is one record and is held at once: a file larger than
// max_bytes is refused (naming the file, its size and the limit) when opened; a pipe, once it gives more.
constexpr size_t kMaxTextFileBytes = size_t(16) << 20;
std::unique_ptr<RecordSource> open_text_source(const std::string& path, size_t max_bytes = kMaxTextFileBytes);
std::unique_ptr<RecordSource> open_jsonl_source(const std::string& path);
// json_expect: "lmflow", "alpaca" or "json" (either).
std::unique_ptr<RecordSource> open_json_source(const std::string& path, DataFormat json_expect);

}  // namespace strata
