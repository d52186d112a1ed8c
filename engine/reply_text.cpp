// ReplyText: decodes the whole reply after each id (tokenizers join pieces with context, e.g. SentencePiece's
// leading space) and hands out the part beyond what was already printed.
#include "engine/reply_text.h"

#include <algorithm>

namespace strata {

namespace {
// Bytes at the end of `s` that start a UTF-8 character not yet complete (0 when it ends on a boundary).
size_t incomplete_utf8_tail(const std::string& s) {
  for (size_t back = 1; back <= 3 && back <= s.size(); ++back) {
    const unsigned char c = static_cast<unsigned char>(s[s.size() - back]);
    if ((c & 0xC0) != 0x80) {  // a lead byte (or ASCII): how long its character is
      const size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
      return len > back ? back : 0;
    }
  }
  return 0;
}
}  // namespace

ReplyText::ReplyText(const Tokenizer& tok, std::vector<int32_t> stop_ids, std::string stop_text)
    : tok_(tok), stop_ids_(std::move(stop_ids)), stop_text_(std::move(stop_text)) {}

std::string ReplyText::add(int32_t id) {
  if (stopped_ || std::find(stop_ids_.begin(), stop_ids_.end(), id) != stop_ids_.end()) return "";
  ids_.push_back(id);
  std::string full = tok_.decode(ids_);
  if (!stop_text_.empty()) {
    const size_t at = full.find(stop_text_);
    if (at != std::string::npos) {
      stopped_ = true;
      full.resize(at);
    } else {
      // Hold back a tail that could be the start of the stop text.
      for (size_t k = std::min(stop_text_.size() - 1, full.size()); k > 0; --k)
        if (full.compare(full.size() - k, k, stop_text_, 0, k) == 0) {
          full.resize(full.size() - k);
          break;
        }
    }
  }
  if (!stopped_) full.resize(full.size() - incomplete_utf8_tail(full));
  // A decoder may rewrite earlier text (rare); print only what extends the printed text.
  if (full.size() <= printed_.size() || full.compare(0, printed_.size(), printed_) != 0) return "";
  std::string fresh = full.substr(printed_.size());
  printed_ = full;
  return fresh;
}

}  // namespace strata
