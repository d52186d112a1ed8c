// RecordEncoder: turns one raw record of a RecordSource into token ids and a loss mask by the rules of its format,
// checking the record first. Stateless after construction, so several threads may share one.
#pragma once
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "data/chat_template.h"
#include "data/dataset_readers.h"
#include "data/document.h"
#include "data/record_source.h"
#include "tokenizer/tokenizer.h"

namespace strata {

class RecordEncoder {
 public:
  RecordEncoder(RecordKind kind, const std::string& path, const ReadOptions& opts, const Tokenizer& tok);

  // Fills `out` (cleared first). Text documents (a text file, a JSONL line, LMFlow text_only) are BOS + text + EOS
  // all in the loss but BOS, the text encoded in one tokenizer call. text2text is
  // BOS + input + output + EOS with the loss on output and EOS; conversations and Alpaca go through the chat
  // template. A malformed record throws StrataError naming the file and the record (index and line), or returns
  // false when opts.skip_bad_records.
  bool encode(const Record& r, Document& out) const;

 private:
  struct Checked {  // what a checked record holds: text; or input + text (text2text); or a conversation
    const std::string* text = nullptr;
    const std::string* input = nullptr;
    std::optional<Conversation> chat;
  };
  std::string where(const Record& r) const;
  Checked check(const Record& r, nlohmann::json& j) const;

  RecordKind kind_;
  std::string path_;
  ReadOptions opts_;
  const Tokenizer& tok_;
  std::optional<ChatTemplate> chat_;
};

}  // namespace strata
