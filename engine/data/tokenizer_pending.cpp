// TEMPORARY (removed before commit): weak placeholders so the tree links while the SentencePiece and BPE
// tokenizers are being written; their real definitions override these.
#include "engine/check.h"
#include "engine/data/tokenizer.h"

namespace strata {

__attribute__((weak)) std::unique_ptr<Tokenizer> make_sentencepiece_tokenizer(const std::string& path) {
  STRATA_FAIL("SentencePiece tokenizer not built yet: " + path);
}
__attribute__((weak)) std::unique_ptr<Tokenizer> make_bpe_tokenizer(const std::string& path) {
  STRATA_FAIL("BPE tokenizer not built yet: " + path);
}

}  // namespace strata
