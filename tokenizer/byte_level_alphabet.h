// GPT-2's byte-to-unicode table: each of the 256 byte values stands for one printable code point, so byte-level BPE
// vocabularies are plain strings. Printable Latin-1 bytes map to themselves, the other 68 to U+0100 upwards.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace strata {

class ByteLevelAlphabet {
 public:
  ByteLevelAlphabet();
  // Appends the mapped code points (UTF-8) of every byte of `bytes` to `out`.
  void map(std::string_view bytes, std::string& out) const;
  // Appends the bytes `token` stands for when every code point of it is in the alphabet and returns true; returns
  // false (appending nothing) otherwise.
  bool unmap(std::string_view token, std::string& out) const;
  char32_t code_point(uint8_t byte) const { return byte_to_cp_[byte]; }

 private:
  std::array<char32_t, 256> byte_to_cp_{};
  std::array<std::string, 256> byte_to_utf8_;
  std::unordered_map<char32_t, uint8_t> cp_to_byte_;
};

// The one immutable instance (built on first use).
const ByteLevelAlphabet& byte_level_alphabet();

}  // namespace strata
