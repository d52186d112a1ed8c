// ReplyText: the text of a reply being generated, token by token: each new id yields the text it adds (held back
// while it ends inside a UTF-8 character), stop ids are not spelled, and a stop text ends the reply without
// appearing in it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace strata {

class ReplyText {
 public:
  // stop_ids: not part of the text; stop_text: when the decoded text contains it, the reply ends before it.
  ReplyText(const Tokenizer& tok, std::vector<int32_t> stop_ids, std::string stop_text = "");
  // Adds `id`; returns the text that became printable (may be empty).
  std::string add(int32_t id);
  bool stopped_by_text() const { return stopped_; }
  // The whole reply so far (without stop ids and stop text).
  const std::string& text() const { return printed_; }

 private:
  const Tokenizer& tok_;
  std::vector<int32_t> stop_ids_, ids_;
  std::string stop_text_, printed_;
  bool stopped_ = false;
};

}  // namespace strata
