// AddedTokenMatcher: finds the added tokens of a tokenizer.json (special tokens like "<|im_start|>" and plain added
// ones) in text, leftmost-longest, honoring their single_word, lstrip and rstrip options as HF tokenizers does.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/unicode_regex.h"

namespace strata {

struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = true;
  bool special = false;
};

// A piece of text: an added token (id >= 0) or plain text for the pre-tokenizer (id < 0), as byte range [begin, end).
struct TextSegment {
  size_t begin = 0;
  size_t end = 0;
  int32_t id = -1;
};

class AddedTokenMatcher {
 public:
  // `patterns[i]` is the text matched for `tokens[i]` (its content, normalized when the token is).
  AddedTokenMatcher(std::vector<AddedToken> tokens, std::vector<std::string> patterns);
  AddedTokenMatcher(AddedTokenMatcher&&) noexcept;
  ~AddedTokenMatcher();
  bool empty() const { return tokens_.empty(); }
  // Splits `text` into segments covering it in order (an lstrip/rstrip token's segment includes the whitespace it
  // strips). Empty text gives no segments.
  void split(std::string_view text, std::vector<TextSegment>& out) const;

 private:
  // Index into tokens_ of the longest pattern starting at `pos`, or -1.
  int longest_at(std::string_view text, size_t pos) const;
  bool is_word_char_before(std::string_view text, size_t pos) const;
  bool is_word_char_at(std::string_view text, size_t pos) const;

  std::vector<AddedToken> tokens_;
  std::vector<std::string> patterns_;
  std::array<std::vector<int>, 256> by_first_byte_;  // token indices, longest pattern first
  std::unique_ptr<UnicodeRegex> word_char_;          // Rust regex's \w: what single_word calls a word character
};

}  // namespace strata
