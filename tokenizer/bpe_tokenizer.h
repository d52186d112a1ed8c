// BpeTokenizer: an HF tokenizer.json byte-level BPE tokenizer (GPT-2 / LLaMA-3 / Qwen2 style) behind the Tokenizer
// interface: added tokens, optional NFC, pre-tokenizer, BPE model; encode() adds no BOS/EOS (no post-processor).
#pragma once
#include <string>
#include <unordered_map>
#include <vector>

#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe_model.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace strata {

class BpeTokenizer final : public Tokenizer {
 public:
  // `added` holds the added tokens (special or not); `nfc`: the normalizer is NFC. `path` names the file in
  // errors. Throws when no BOS/EOS token can be found (see pick_bos_eos).
  BpeTokenizer(BpeModel model, PreTokenizer pre, bool nfc, std::vector<AddedToken> added, const std::string& path);

  std::string name() const override { return name_; }
  int vocab_size() const override { return vocab_size_; }
  int bos_id() const override { return bos_; }
  int eos_id() const override { return eos_; }
  // As HF's tokenizer.encode(text, add_special_tokens=False).ids. Bytes that are not UTF-8 are kept (they
  // pre-tokenize as non-letters and map to their byte tokens), so decode(encode(x)) gives x back.
  void encode(std::string_view text, std::vector<int32_t>& out) const override;
  // As HF's tokenizer.decode(ids, skip_special_tokens=False): the byte-level inverse, special tokens included,
  // invalid UTF-8 replaced with U+FFFD; ids outside the vocabulary are skipped.
  std::string decode(const std::vector<int32_t>& ids) const override;
  int piece_to_id(const std::string& piece) const override;

 private:
  void encode_normalized(std::string_view piece, std::vector<int32_t>& out) const;
  const std::string* token_text(int32_t id) const;

  std::string name_;
  BpeModel model_;
  PreTokenizer pre_;
  bool nfc_;
  AddedTokenMatcher raw_matcher_;         // added tokens with normalized=false: matched in the raw text
  AddedTokenMatcher normalized_matcher_;  // normalized=true: matched in the normalized pieces between those
  std::unordered_map<int32_t, std::string> added_text_;
  TokenVocab added_ids_;
  int vocab_size_ = 0;
  int bos_ = -1;
  int eos_ = -1;
};

}  // namespace strata
