// PackedDataset: lays documents out in one token/mask stream (packed back to back, or each padded to whole
// windows), clears the mask of every document's first token, and serves non-overlapping windows of seq_len + 1
// tokens as (inputs, next-token targets) pairs, with -100 on targets the mask leaves out of the loss.
#include "data/packed_dataset.h"

#include <string>

#include "core/check.h"

namespace strata {

PackedDataset::PackedDataset(const std::vector<Document>& docs, int seq_len, bool pack) : seq_len_(seq_len) {
  STRATA_USER_CHECK(seq_len >= 1, "data.seq_len must be >= 1, got " + std::to_string(seq_len));
  const size_t window = static_cast<size_t>(seq_len) + 1;
  size_t total = 0;
  for (size_t d = 0; d < docs.size(); ++d) {
    const size_t n = docs[d].tokens.size();
    STRATA_CHECK(docs[d].mask.size() == n, "document " + std::to_string(d) + " has " + std::to_string(n) +
                                               " tokens but " + std::to_string(docs[d].mask.size()) +
                                               " mask entries (a reader bug)");
    total += pack ? n : (n + window - 1) / window * window;
  }
  auto tokens = std::make_shared<std::vector<int32_t>>();
  auto mask = std::make_shared<std::vector<uint8_t>>();
  tokens->reserve(total);
  mask->reserve(total);
  for (const Document& d : docs) {
    if (d.tokens.empty()) continue;
    const size_t start = tokens->size();
    tokens->insert(tokens->end(), d.tokens.begin(), d.tokens.end());
    mask->insert(mask->end(), d.mask.begin(), d.mask.end());
    (*mask)[start] = 0;  // a document's first token is not predicted from what precedes it in the stream
    if (!pack) {
      tokens->resize((tokens->size() + window - 1) / window * window, 0);
      mask->resize(tokens->size(), 0);
    }
  }
  n_seq_ = tokens->size() / window;
  tokens_ = std::move(tokens);
  mask_ = std::move(mask);
}

void PackedDataset::get(size_t i, int32_t* tokens, int32_t* targets) const {
  STRATA_CHECK(i < n_seq_, "window " + std::to_string(i) + " is out of range: the dataset has " +
                               std::to_string(n_seq_) + " windows of " + std::to_string(seq_len_) + " tokens");
  const size_t w = i * (static_cast<size_t>(seq_len_) + 1);
  const int32_t* s = tokens_->data() + w;
  const uint8_t* m = mask_->data() + w;
  for (int t = 0; t < seq_len_; ++t) {
    tokens[t] = s[t];
    targets[t] = m[t + 1] ? s[t + 1] : -100;
  }
}

}  // namespace strata
