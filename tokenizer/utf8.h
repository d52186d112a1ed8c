// UTF-8 helpers for the tokenizers: decoding one code point (with the maximal invalid subpart when the bytes are not
// UTF-8), appending a code point, lossy conversion to valid UTF-8 (each invalid subpart becomes U+FFFD).
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace strata::utf8 {

struct Decoded {
  char32_t cp = 0;   // the code point; 0xFFFD when !valid
  size_t len = 1;    // bytes consumed (1..4); for invalid bytes the length of the maximal subpart (Unicode 3.9)
  bool valid = true;
};

// Decodes the sequence starting at s[pos] (pos < s.size()).
Decoded decode(std::string_view s, size_t pos);
void append(std::string& out, char32_t cp);
// Replaces every maximal invalid subpart with U+FFFD (as Rust's String::from_utf8_lossy and Python's
// errors="replace" do); valid input comes back unchanged.
std::string lossy(std::string_view bytes);
// Unicode White_Space (25 code points): what Rust's and Oniguruma's \s match.
bool is_white_space(char32_t cp);

}  // namespace strata::utf8
