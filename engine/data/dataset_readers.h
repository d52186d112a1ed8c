// Readers turning files into Documents: pre-tokenized token files, plain text, JSONL ({"text": ...}), LMFlow dataset
// JSON (text_only; text2text with loss only on the output), and the seeded synthetic story generator.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/data/document.h"
#include "engine/data/tokenizer.h"

namespace strata {

struct ReadOptions {
  std::string format = "auto";        // see read_documents
  std::string text_field = "text";    // JSONL field
  std::string chat_template = "llama2";  // llama2 ([INST] ... [/INST]) | chatml (<|im_start|>role ... <|im_end|>)
  bool skip_bad_records = false;      // skip (and count) malformed records instead of failing
};

struct ReadStats {
  size_t records = 0;
  size_t skipped = 0;  // malformed records skipped (skip_bad_records)
};

// format: auto (by extension: .tok -> tokens, .jsonl -> jsonl, .json -> lmflow, anything else -> text) | tokens |
// text | jsonl | lmflow | alpaca. Text documents are BOS + text + EOS with every token in the loss; LMFlow
// text2text is BOS + input + output + EOS with the loss on output and EOS only; LMFlow conversation and Alpaca go
// through the chat template with the loss on the assistant / output tokens only. Errors name the file (and line /
// instance); with skip_bad_records the bad record is skipped and counted in `stats`.
std::vector<Document> read_documents(const std::string& path, const ReadOptions& opts, const Tokenizer& tok,
                                     ReadStats* stats = nullptr);
inline std::vector<Document> read_documents(const std::string& path, const std::string& format, const Tokenizer& tok,
                                            const std::string& text_field) {
  ReadOptions o;
  o.format = format;
  o.text_field = text_field;
  return read_documents(path, o, tok);
}

// `n` short English stories from a seeded template grammar (deterministic for a seed), tokenised by `tok`:
// learnable structure, so a tiny model's loss falls visibly within a few hundred steps.
std::vector<Document> synthetic_documents(int n, uint64_t seed, const Tokenizer& tok);

// Pre-tokenized token file (.tok): magic "STRTOKS\0", u32 version 1, u32 bytes per id (2 or 4), u32 flags
// (bit 0: a loss mask follows), u32 reserved, u64 number of documents, u64 number of tokens, then u64 document
// end offsets [n_docs], the ids [n_tokens] (little-endian), and the mask bytes [n_tokens] when flagged.
// Written atomically (temp + fsync + rename).
void write_token_file(const std::string& path, const std::vector<Document>& docs);
std::vector<Document> read_token_file(const std::string& path);

}  // namespace strata
