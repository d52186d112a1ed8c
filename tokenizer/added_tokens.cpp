// Added-token matching: at the leftmost position where some pattern matches, the longest one; single_word, lstrip
// and rstrip as in HF's AddedVocabulary (a skipped single_word match still consumes its text).
#include "tokenizer/added_tokens.h"

#include <algorithm>

#include "tokenizer/utf8.h"

namespace strata {

AddedTokenMatcher::AddedTokenMatcher(std::vector<AddedToken> tokens, std::vector<std::string> patterns)
    : tokens_(std::move(tokens)), patterns_(std::move(patterns)) {
  bool any_single_word = false;
  for (size_t i = 0; i < tokens_.size(); ++i) {
    if (patterns_[i].empty()) continue;
    by_first_byte_[static_cast<unsigned char>(patterns_[i][0])].push_back(static_cast<int>(i));
    any_single_word = any_single_word || tokens_[i].single_word;
  }
  for (auto& bucket : by_first_byte_)
    std::stable_sort(bucket.begin(), bucket.end(),
                     [&](int a, int b) { return patterns_[a].size() > patterns_[b].size(); });
  if (any_single_word)
    word_char_ = std::make_unique<UnicodeRegex>(R"([\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}])",
                                                UnicodeRegex::Syntax::Regex, "added token word characters");
}

AddedTokenMatcher::AddedTokenMatcher(AddedTokenMatcher&&) noexcept = default;
AddedTokenMatcher::~AddedTokenMatcher() = default;

int AddedTokenMatcher::longest_at(std::string_view text, size_t pos) const {
  for (const int i : by_first_byte_[static_cast<unsigned char>(text[pos])])
    if (text.substr(pos).starts_with(patterns_[i])) return i;
  return -1;
}

bool AddedTokenMatcher::is_word_char_at(std::string_view text, size_t pos) const {
  return pos < text.size() && word_char_->matches_at(text, pos);
}

bool AddedTokenMatcher::is_word_char_before(std::string_view text, size_t pos) const {
  if (pos == 0) return false;
  size_t start = pos - 1;  // back to the start of the previous UTF-8 sequence
  while (start > 0 && pos - start < 4 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
  if (start + utf8::decode(text, start).len != pos) start = pos - 1;
  return word_char_->matches_at(text.substr(0, pos), start);
}

void AddedTokenMatcher::split(std::string_view text, std::vector<TextSegment>& out) const {
  if (text.empty()) return;
  size_t emitted = 0;  // end of the last segment
  for (size_t pos = 0; pos < text.size();) {
    const int t = longest_at(text, pos);
    if (t < 0) {
      ++pos;
      continue;
    }
    const AddedToken& token = tokens_[t];
    size_t start = pos, stop = pos + patterns_[t].size();
    pos = stop;  // the next search starts after this match, whatever happens to it
    if (token.single_word && (is_word_char_before(text, start) || is_word_char_at(text, stop))) continue;
    if (token.lstrip) {
      size_t s = start;
      while (s > 0) {  // walk back over White_Space characters
        size_t b = s - 1;
        while (b > 0 && s - b < 4 && (static_cast<unsigned char>(text[b]) & 0xC0) == 0x80) --b;
        const utf8::Decoded d = utf8::decode(text, b);
        if (b + d.len != s || !d.valid || !utf8::is_white_space(d.cp)) break;
        s = b;
      }
      start = std::max(s, emitted);
    }
    if (token.rstrip) {
      while (stop < text.size()) {
        const utf8::Decoded d = utf8::decode(text, stop);
        if (!d.valid || !utf8::is_white_space(d.cp)) break;
        stop += d.len;
      }
    }
    if (emitted < start) out.push_back({emitted, start, -1});
    out.push_back({start, stop, token.id});
    emitted = stop;
  }
  if (emitted < text.size()) out.push_back({emitted, text.size(), -1});
}

}  // namespace strata
