// BpeTokenizer: encode = added tokens in the raw text, then per remaining piece NFC (when set), added tokens with
// normalized=true, pre-tokenizer and BPE; decode = token texts through the inverse byte-level alphabet.
#include "tokenizer/bpe_tokenizer.h"

#include <algorithm>
#include <filesystem>
#include <utility>

#include "core/check.h"
#include "tokenizer/byte_level_alphabet.h"
#include "tokenizer/unicode_nfc.h"
#include "tokenizer/utf8.h"

namespace strata {

namespace {

AddedTokenMatcher make_matcher(const std::vector<AddedToken>& added, bool normalized, bool nfc) {
  std::vector<AddedToken> tokens;
  std::vector<std::string> patterns;
  for (const AddedToken& t : added) {
    if (t.content.empty() || t.normalized != normalized) continue;
    tokens.push_back(t);
    patterns.push_back(normalized && nfc ? nfc_normalize(t.content) : t.content);
  }
  return AddedTokenMatcher(std::move(tokens), std::move(patterns));
}

}  // namespace

BpeTokenizer::BpeTokenizer(BpeModel model, PreTokenizer pre, bool nfc, std::vector<AddedToken> added,
                           const std::string& path)
    : name_("bpe:" + std::filesystem::path(path).filename().string()),
      model_(std::move(model)),
      pre_(std::move(pre)),
      nfc_(nfc),
      raw_matcher_(make_matcher(added, false, nfc)),
      normalized_matcher_(make_matcher(added, true, nfc)) {
  int32_t max_id = model_.max_id();
  for (const AddedToken& t : added) {
    // HF decodes a normalized token as its normalized content (and looks it up by its content as written).
    added_text_[t.id] = t.normalized && nfc ? nfc_normalize(t.content) : t.content;
    added_ids_[t.content] = t.id;
    max_id = std::max(max_id, t.id);
  }
  vocab_size_ = max_id + 1;
  STRATA_USER_CHECK(vocab_size_ > 0, path + ": the tokenizer has no tokens (model.vocab and added_tokens are empty)");

  const auto first_of = [&](std::initializer_list<const char*> names) {
    for (const char* n : names)
      if (const int id = piece_to_id(n); id >= 0) return id;
    return -1;
  };
  bos_ = first_of({"<|begin_of_text|>", "<s>", "<bos>", "<|startoftext|>"});
  eos_ = first_of({"<|end_of_text|>", "</s>", "<eos>", "<|endoftext|>"});
  STRATA_USER_CHECK(bos_ >= 0 || eos_ >= 0,
                    path +
                        ": no BOS/EOS token found (none of <|begin_of_text|>, <s>, <bos>, <|end_of_text|>, </s>, "
                        "<eos>, <|endoftext|> is in added_tokens or model.vocab); add one to added_tokens");
  if (bos_ < 0) bos_ = eos_;
  if (eos_ < 0) eos_ = bos_;
}

int BpeTokenizer::piece_to_id(const std::string& piece) const {
  if (const auto it = added_ids_.find(piece); it != added_ids_.end()) return it->second;
  return model_.token_to_id(piece);
}

const std::string* BpeTokenizer::token_text(int32_t id) const {
  if (const auto it = added_text_.find(id); it != added_text_.end()) return &it->second;
  return model_.id_to_token(id);
}

void BpeTokenizer::encode_normalized(std::string_view piece, std::vector<int32_t>& out) const {
  std::vector<std::string> words;
  pre_.run(piece, words);
  for (const std::string& w : words) model_.tokenize(w, out);
}

void BpeTokenizer::encode(std::string_view text, std::vector<int32_t>& out) const {
  std::vector<TextSegment> raw, inner;
  raw_matcher_.split(text, raw);
  for (const TextSegment& seg : raw) {
    if (seg.id >= 0) {
      out.push_back(seg.id);
      continue;
    }
    const std::string_view piece = text.substr(seg.begin, seg.end - seg.begin);
    std::string normalized;
    const std::string_view norm = nfc_ ? std::string_view(normalized = nfc_normalize(piece)) : piece;
    inner.clear();
    normalized_matcher_.split(norm, inner);
    for (const TextSegment& s : inner) {
      if (s.id >= 0) out.push_back(s.id);
      else encode_normalized(norm.substr(s.begin, s.end - s.begin), out);
    }
  }
}

std::string BpeTokenizer::decode(const std::vector<int32_t>& ids) const {
  const ByteLevelAlphabet& alphabet = byte_level_alphabet();
  std::string bytes;
  for (const int32_t id : ids) {
    const std::string* text = token_text(id);
    if (text == nullptr) continue;
    if (!alphabet.unmap(*text, bytes)) bytes += *text;  // e.g. an added token with characters outside the alphabet
  }
  return utf8::lossy(bytes);
}

}  // namespace strata
