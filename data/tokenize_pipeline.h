// The tokenize pipeline behind `strata tokenize`: dataset files streamed record by record, tokenized in batches
// on a thread pool, and appended in input order to one token file, in memory independent of the corpus size.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "data/dataset_readers.h"
#include "tokenizer/tokenizer.h"

namespace strata {

struct TokenizeOptions {
  std::vector<std::string> inputs;  // read in this order; read.format applies to each ("auto": by its extension)
  std::string out;                  // the token file (.tok)
  ReadOptions read;
  int threads = 1;                  // tokenizing threads (the calling thread reads and writes)
  size_t batch_records = 1024;      // a job is this many records ...
  size_t batch_bytes = size_t(1) << 20;  // ... or this many input bytes, whichever comes first
};

struct TokenizeStats {
  size_t files = 0, file = 0;  // inputs, and the one being read (0-based)
  size_t records = 0, skipped = 0, documents = 0;
  uint64_t tokens = 0, bytes = 0;  // tokens written, input bytes consumed
  double seconds = 0;
  int bytes_per_id = 0;
};

// Writes opts.out with the documents read_documents would give for each input, concatenated in input order:
// 2 bytes per id when the tokenizer's vocabulary fits, else 4, and always the loss mask. The output appears
// atomically at the end; on error nothing is left behind. `progress` (if set) is called from the calling thread
// about every `progress_every_s` seconds. Errors name the file and record, as read_documents'. The tokenizer's
// encode() runs on several threads at once (it is const; the tokenizers keep no unsynchronized state).
TokenizeStats tokenize_to_token_file(const TokenizeOptions& opts, const Tokenizer& tok,
                                     const std::function<void(const TokenizeStats&)>& progress = {},
                                     double progress_every_s = 0.5);

}  // namespace strata
