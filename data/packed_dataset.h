// PackedDataset: documents laid out in one token stream cut into fixed windows of seq_len + 1 tokens; each window
// gives seq_len input positions and their next-token targets (-100 where the mask excludes them).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "data/document.h"

namespace strata {

class PackedDataset {
 public:
  PackedDataset() = default;
  // pack = true: documents are concatenated and windows do not overlap; a trailing partial window is dropped.
  // pack = false: every document starts a new window; a document longer than a window continues in the next ones
  // and the rest of its last window is padding (id 0, never a target).
  // Either way each document's first token is never a target: predicting it would mean predicting one document
  // from the end of another (packing) or from padding. Attention still spans the packed documents of a window
  // (no per-document attention mask), as in LMFlow's and HF's grouped texts.
  PackedDataset(const std::vector<Document>& docs, int seq_len, bool pack = true);

  int seq_len() const { return seq_len_; }
  size_t size() const { return n_seq_; }     // number of windows
  size_t num_tokens() const { return tokens_ ? tokens_->size() : 0; }  // including padding
  // tokens[seq_len] = inputs of window i; targets[seq_len] = the next token, or -100 where the loss is masked.
  void get(size_t i, int32_t* tokens, int32_t* targets) const;

 private:
  int seq_len_ = 0;
  size_t n_seq_ = 0;
  // Shared and immutable, so a copy (the eval set of a held-out split) does not duplicate the stream.
  std::shared_ptr<const std::vector<int32_t>> tokens_;
  std::shared_ptr<const std::vector<uint8_t>> mask_;
};

}  // namespace strata
