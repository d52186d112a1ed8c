// make_tokenizer: picks the tokenizer from data.tokenizer: the built-in byte-level one, a SentencePiece model, an
// HF tokenizer.json, or whichever of the two a (model) folder holds.
#include <filesystem>

#include "core/check.h"
#include "tokenizer/tokenizer.h"

namespace strata {

std::unique_ptr<Tokenizer> make_tokenizer(const std::string& spec) {
  namespace fs = std::filesystem;
  if (spec == "byte") return std::make_unique<ByteTokenizer>();
  std::error_code ec;
  fs::path p(spec);
  if (fs::is_directory(p, ec)) {
    if (fs::exists(p / "tokenizer.json", ec)) p /= "tokenizer.json";
    else if (fs::exists(p / "tokenizer.model", ec)) p /= "tokenizer.model";
    else
      STRATA_USER_FAIL("data.tokenizer: folder '" + spec + "' has neither tokenizer.json nor tokenizer.model");
  }
  STRATA_USER_CHECK(fs::exists(p, ec), "data.tokenizer: '" + spec +
                                           "' is not \"byte\", \"model\", a tokenizer file or a "
                                           "folder holding tokenizer.json / tokenizer.model");
  if (p.extension() == ".json") return make_bpe_tokenizer(p.string());
  return make_sentencepiece_tokenizer(p.string());
}

}  // namespace strata
