// The byte-level alphabet: bytes '!'..'~', 0xA1..0xAC and 0xAE..0xFF stand for themselves; the remaining 68 bytes,
// in increasing order, for U+0100, U+0101, ... (so the space 0x20 is U+0120 'Ġ' and the newline U+010A 'Ċ').
#include "tokenizer/byte_level_alphabet.h"

#include "tokenizer/utf8.h"

namespace strata {

ByteLevelAlphabet::ByteLevelAlphabet() {
  char32_t next = 0x100;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    byte_to_cp_[b] = printable ? static_cast<char32_t>(b) : next++;
    utf8::append(byte_to_utf8_[b], byte_to_cp_[b]);
    cp_to_byte_[byte_to_cp_[b]] = static_cast<uint8_t>(b);
  }
}

void ByteLevelAlphabet::map(std::string_view bytes, std::string& out) const {
  for (const char c : bytes) out += byte_to_utf8_[static_cast<unsigned char>(c)];
}

bool ByteLevelAlphabet::unmap(std::string_view token, std::string& out) const {
  const size_t start = out.size();
  for (size_t pos = 0; pos < token.size();) {
    const utf8::Decoded d = utf8::decode(token, pos);
    const auto it = d.valid ? cp_to_byte_.find(d.cp) : cp_to_byte_.end();
    if (it == cp_to_byte_.end()) {
      out.resize(start);
      return false;
    }
    out += static_cast<char>(it->second);
    pos += d.len;
  }
  return true;
}

const ByteLevelAlphabet& byte_level_alphabet() {
  static const ByteLevelAlphabet alphabet;
  return alphabet;
}

}  // namespace strata
