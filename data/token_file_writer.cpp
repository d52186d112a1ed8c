// TokenFileWriter: streams the ids, masks and document ends into three unlinked scratch files next to the target,
// then assembles header + ends + ids + mask in the temp file that is renamed into place.
#include "data/token_file_writer.h"

#include <string>

#include "core/check.h"
#include "data/token_file_format.h"

namespace strata {

using token_file::put_le;

TokenFileWriter::TokenFileWriter(const std::string& path, int bytes_per_id, bool with_mask)
    : path_(path), bpi_(bytes_per_id), with_mask_(with_mask) {
  STRATA_CHECK(bpi_ == 2 || bpi_ == 4, "token file " + path + ": bytes per id must be 2 or 4, got " +
                                           std::to_string(bpi_) + " (a caller bug)");
  const std::string prefix = "cannot write token file " + path;
  out_ = std::make_unique<TempFile>(path, false, prefix);
  ends_ = std::make_unique<TempFile>(path, true, prefix);
  ids_ = std::make_unique<TempFile>(path, true, prefix);
  if (with_mask_) mask_ = std::make_unique<TempFile>(path, true, prefix);
}

TokenFileWriter::~TokenFileWriter() = default;

void TokenFileWriter::fail(const std::string& what) const {
  STRATA_FAIL("cannot write token file " + path_ + ": document " + std::to_string(n_docs_) + " " + what);
}

void TokenFileWriter::encode(const Document& piece, int bytes_per_id, EncodedPiece& out) {
  const size_t n = piece.tokens.size(), bpi = static_cast<size_t>(bytes_per_id);
  out.tokens = n;
  out.mask_entries = piece.mask.size();
  out.bad_at = kNone;
  if (out.mask_entries != n) return;
  const int64_t limit = int64_t{1} << (8 * bpi);
  out.ids.resize(n * bpi);
  unsigned char* p = out.ids.data();
  for (size_t t = 0; t < n; ++t, p += bpi) {
    const int32_t id = piece.tokens[t];
    if (id < 0 || id >= limit) {
      out.bad_at = t;
      out.bad_id = id;
      return;
    }
    const auto v = static_cast<uint32_t>(id);
    p[0] = static_cast<unsigned char>(v);
    p[1] = static_cast<unsigned char>(v >> 8);
    if (bpi == 4) {
      p[2] = static_cast<unsigned char>(v >> 16);
      p[3] = static_cast<unsigned char>(v >> 24);
    }
  }
  out.mask.resize(n);
  for (size_t t = 0; t < n; ++t) out.mask[t] = piece.mask[t] ? 1 : 0;
}

void TokenFileWriter::append(const Document& piece) {
  EncodedPiece e;
  encode(piece, bpi_, e);
  append(e);
}

void TokenFileWriter::append(const EncodedPiece& piece) {
  STRATA_CHECK(!finished_, "token file " + path_ + ": append after finish (a caller bug)");
  if (piece.mask_entries != piece.tokens)
    fail("has " + std::to_string(piece.tokens) + " tokens but " + std::to_string(piece.mask_entries) +
         " mask entries");
  if (piece.bad_at != kNone) {
    const std::string id = std::to_string(piece.bad_id), at = std::to_string(doc_tokens_ + piece.bad_at);
    if (piece.bad_id < 0) fail("token " + at + " has negative id " + id);
    fail("token " + at + " has id " + id + ", more than " + std::to_string(bpi_) + " bytes per id hold");
  }
  STRATA_CHECK(piece.ids.size() == piece.tokens * static_cast<size_t>(bpi_),
               "token file " + path_ + ": a piece encoded with another id width (a caller bug)");
  ids_->write(piece.ids.data(), piece.ids.size());
  if (mask_) mask_->write(piece.mask.data(), piece.mask.size());
  doc_tokens_ += piece.tokens;
  n_tokens_ += piece.tokens;
}

void TokenFileWriter::end_document() {
  put_le(ends_->buffer(), n_tokens_, 8);
  ends_->maybe_flush();
  ++n_docs_;
  doc_tokens_ = 0;
}

void TokenFileWriter::finish() {
  STRATA_CHECK(!finished_, "token file " + path_ + ": finish called twice (a caller bug)");
  if (doc_tokens_ > 0) end_document();
  finished_ = true;
  std::vector<unsigned char>& h = out_->buffer();
  h.insert(h.end(), token_file::kMagic, token_file::kMagic + 8);
  put_le(h, token_file::kVersion, 4);
  put_le(h, static_cast<uint64_t>(bpi_), 4);
  put_le(h, with_mask_ ? token_file::kFlagMask : 0, 4);
  put_le(h, 0, 4);
  put_le(h, n_docs_, 8);
  put_le(h, n_tokens_, 8);
  out_->append_file(*ends_);
  out_->append_file(*ids_);
  if (mask_) out_->append_file(*mask_);
  out_->publish();
  ends_.reset();
  ids_.reset();
  mask_.reset();
}

}  // namespace strata
