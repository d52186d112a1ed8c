// TokenFileWriter: writes a token file (.tok, see dataset_readers.h) incrementally, in memory independent of its
// size: documents are appended piece by piece and the header's counts are filled in by finish().
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/document.h"
#include "core/temp_file.h"

namespace strata {

class TokenFileWriter {
 public:
  // bytes_per_id: 2 or 4 (ids must fit); with_mask: store the loss mask (flag bit 0), else readers give every
  // token but each document's first a loss weight of 1. Nothing appears at `path` until finish().
  TokenFileWriter(const std::string& path, int bytes_per_id, bool with_mask);
  ~TokenFileWriter();  // without finish(): removes the temp files and leaves `path` untouched

  // A piece in file form (ids as little-endian bytes, mask as 0/1 bytes), made by encode() on any thread so the
  // writing thread only copies bytes.
  struct EncodedPiece {
    std::vector<unsigned char> ids, mask;
    size_t tokens = 0, mask_entries = 0;  // they differ for a bad piece, which append() reports
    size_t bad_at = kNone;                // the first id the file cannot hold (negative, or too wide) ...
    int32_t bad_id = 0;                   // ... and its value
  };
  static constexpr size_t kNone = ~size_t{0};
  static void encode(const Document& piece, int bytes_per_id, EncodedPiece& out);

  // Appends tokens (and their mask) to the open document; end_document() closes it.
  void append(const Document& piece);
  void append(const EncodedPiece& piece);
  void end_document();
  void add(const Document& doc) {
    append(doc);
    end_document();
  }
  // Closes an open document, then writes the header, the document offsets, the ids and the mask, and publishes
  // the file atomically (temp + fsync + rename).
  void finish();

  uint64_t documents() const { return n_docs_; }
  uint64_t tokens() const { return n_tokens_; }

 private:
  [[noreturn]] void fail(const std::string& what) const;

  std::string path_;
  int bpi_;
  bool with_mask_;
  std::unique_ptr<TempFile> out_, ends_, ids_, mask_;  // the file; scratch for the offsets, ids and mask
  uint64_t n_docs_ = 0, n_tokens_ = 0, doc_tokens_ = 0;
  bool finished_ = false;
};

}  // namespace strata
