// The byte-level tokenizer (UTF-8 bytes as ids 0..255, BOS 256, EOS 257) and make_tokenizer, the lookup by the
// data.tokenizer name. Real tokenizers (SentencePiece, HF BPE) join the lookup in a later issue.
#include <memory>
#include <string>
#include <vector>

#include "core/check.h"
#include "tokenizer/tokenizer.h"

namespace strata {

void ByteTokenizer::encode(std::string_view text, std::vector<int32_t>& out) const {
  out.reserve(out.size() + text.size());
  for (const char c : text) out.push_back(static_cast<int32_t>(static_cast<unsigned char>(c)));
}

// BOS and EOS decode to nothing; an id the byte vocab does not have (a model with a larger vocab can sample one)
// decodes to U+FFFD so the text stays valid UTF-8 and the problem stays visible.
std::string ByteTokenizer::decode(const std::vector<int32_t>& ids) const {
  std::string out;
  out.reserve(ids.size());
  for (const int32_t id : ids) {
    if (id >= 0 && id < 256)
      out.push_back(static_cast<char>(static_cast<unsigned char>(id)));
    else if (id != bos_id() && id != eos_id())
      out += "\xEF\xBF\xBD";
  }
  return out;
}

}  // namespace strata
