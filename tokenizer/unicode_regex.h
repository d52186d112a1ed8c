// UnicodeRegex: a PCRE2 (UTF + UCP, JIT) regular expression over UTF-8 text that behaves like the Oniguruma regexes
// of HF tokenizers: \s and \S mean Unicode White_Space, and matches are iterated the way Oniguruma's find_iter does.
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace strata {

class UnicodeRegex {
 public:
  enum class Syntax { Regex, Literal };
  // `where` names the pattern in errors (e.g. "tokenizer.json: pre_tokenizer.pattern.Regex").
  UnicodeRegex(const std::string& pattern, Syntax syntax, const std::string& where);
  ~UnicodeRegex();
  UnicodeRegex(UnicodeRegex&&) noexcept;
  UnicodeRegex& operator=(UnicodeRegex&&) noexcept;

  // Appends the [begin, end) byte ranges of the successive matches in `text` (empty ones included, but never an
  // empty match right where the previous match ended). Bytes that are not UTF-8 never match. Thread-safe.
  void find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const;
  // Whether the pattern matches at byte `pos` of `text` (anchored there).
  bool matches_at(std::string_view text, size_t pos) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The pattern rewritten for PCRE2: \s -> \p{White_Space}, \S -> \P{White_Space} (PCRE2's own \s also matches
// U+180E). Exposed for tests.
std::string translate_oniguruma_pattern(std::string_view pattern);

}  // namespace strata
