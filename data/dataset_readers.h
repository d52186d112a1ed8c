// Readers turning files into Documents: pre-tokenized token files, plain text, JSONL ({"text": ...}), LMFlow dataset
// JSON (text_only, text2text, conversation), Alpaca JSON, and the seeded synthetic story generator.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/data_config.h"
#include "data/document.h"
#include "tokenizer/tokenizer.h"

namespace strata {

struct ReadOptions {
  DataFormat format = DataFormat::Auto;  // see read_documents
  std::string text_field = "text";    // JSONL field
  ChatTemplateKind chat_template = ChatTemplateKind::Llama2;  // [INST] ... [/INST] | <|im_start|>role ... <|im_end|>
  bool skip_bad_records = false;      // skip (and count) malformed records instead of failing
};

struct ReadStats {
  size_t records = 0;
  size_t skipped = 0;  // malformed records skipped (skip_bad_records)
};

// format: see DataFormat (auto by extension; a .json file is LMFlow for an object, Alpaca for an array). Text documents (a text file, a JSONL line,
// LMFlow text_only) are BOS + text + EOS with every token but BOS in the loss; LMFlow text2text is BOS + input +
// output + EOS with the loss on output and EOS only; LMFlow conversation and Alpaca go through opts.chat_template
// (chat_template.h) with the loss on the assistant / output tokens only. A tokenizer without BOS or EOS
// (bos_id() / eos_id() < 0) gets none. Errors name the file and the record (index, and the line); with
// skip_bad_records a malformed record is skipped instead. `stats` counts every record (a text file is one) and
// the skipped ones; it is added to, not reset.
std::vector<Document> read_documents(const std::string& path, const ReadOptions& opts, const Tokenizer& tok,
                                     ReadStats* stats = nullptr);
inline std::vector<Document> read_documents(const std::string& path, DataFormat format, const Tokenizer& tok,
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
// Written atomically (temp + fsync + rename); TokenFileWriter (token_file_writer.h) writes one incrementally.
void write_token_file(const std::string& path, const std::vector<Document>& docs);
std::vector<Document> read_token_file(const std::string& path);

}  // namespace strata
