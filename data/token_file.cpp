// Pre-tokenized token files (.tok): write_token_file (through TokenFileWriter) and the validating, streaming reader
// of the format that dataset_readers.h documents. Without a mask (flag bit 0 clear) every token is in the loss
// except each document's first, which has nothing in its document to be predicted from (the mask text documents get).
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/check.h"
#include "data/dataset_readers.h"
#include "data/token_file_format.h"
#include "data/token_file_writer.h"

namespace strata {
namespace {

using token_file::get_le;
using token_file::kFlagMask;
using token_file::kHeaderBytes;
using token_file::kMagic;
using token_file::kVersion;

bool default_mask(const Document& d) {
  for (size_t i = 0; i < d.mask.size(); ++i)
    if ((d.mask[i] != 0) != (i != 0)) return false;
  return true;
}

}  // namespace

// 2 bytes per id when every id fits, and the mask only when some document's differs from the default.
void write_token_file(const std::string& path, const std::vector<Document>& docs) {
  int32_t max_id = 0;
  bool need_mask = false;
  for (const Document& doc : docs) {
    for (const int32_t id : doc.tokens) max_id = std::max(max_id, id);
    need_mask = need_mask || !default_mask(doc);
  }
  TokenFileWriter out(path, max_id < 65536 ? 2 : 4, need_mask);
  for (const Document& doc : docs) out.add(doc);
  out.finish();
}

std::vector<Document> read_token_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  STRATA_USER_CHECK(in, "cannot open " + path + ": " + std::strerror(errno) + "; check the path and its permissions");
  std::error_code ec;
  const uint64_t file_size = std::filesystem::file_size(path, ec);
  STRATA_USER_CHECK(!ec, "cannot read the size of " + path + ": " + ec.message());
  auto bad = [&](uint64_t offset, const std::string& what) {
    STRATA_USER_FAIL(path + ": byte " + std::to_string(offset) + ": " + what +
                     "; the token file is corrupt or truncated, write it again");
  };
  uint64_t pos = 0;
  auto read_exact = [&](void* dst, uint64_t n, const char* what) {
    in.read(static_cast<char*>(dst), static_cast<std::streamsize>(n));
    const auto got = static_cast<uint64_t>(in.gcount());
    if (got != n) bad(pos + got, std::string("the file ends inside ") + what);
    pos += n;
  };

  if (file_size < kHeaderBytes)
    bad(file_size, "the file ends inside the header (" + std::to_string(file_size) + " bytes, a header is " +
                       std::to_string(kHeaderBytes) + ")");
  unsigned char h[kHeaderBytes];
  read_exact(h, kHeaderBytes, "the header");
  if (std::memcmp(h, kMagic, 8) != 0) bad(0, "bad magic, expected \"STRTOKS\\0\": not a Strata token file");
  const uint64_t version = get_le(h + 8, 4), bpi = get_le(h + 12, 4), flags = get_le(h + 16, 4);
  const uint64_t n_docs = get_le(h + 24, 8), n_tokens = get_le(h + 32, 8);
  if (version != kVersion) bad(8, "version " + std::to_string(version) + ", this build reads version 1");
  if (bpi != 2 && bpi != 4) bad(12, "bytes per id is " + std::to_string(bpi) + ", must be 2 or 4");
  if (flags & ~uint64_t{kFlagMask}) bad(16, "unknown flag bits " + std::to_string(flags));
  const bool has_mask = flags & kFlagMask;

  uint64_t expected = 0, part = 0;
  bool overflow = __builtin_mul_overflow(n_docs, uint64_t{8}, &part) ||
                  __builtin_add_overflow(uint64_t{kHeaderBytes}, part, &expected) ||
                  __builtin_mul_overflow(n_tokens, bpi + (has_mask ? 1 : 0), &part) ||
                  __builtin_add_overflow(expected, part, &expected);
  if (overflow || expected != file_size)
    bad(24, "the header's " + std::to_string(n_docs) + " documents and " + std::to_string(n_tokens) + " tokens (" +
                std::to_string(bpi) + " bytes per id" + (has_mask ? ", with mask" : "") + ") need " +
                (overflow ? std::string("more than 2^64") : std::to_string(expected)) + " bytes but the file has " +
                std::to_string(file_size));

  std::vector<uint64_t> ends(n_docs);
  {
    std::vector<unsigned char> raw(n_docs * 8);
    read_exact(raw.data(), raw.size(), "the document offsets");
    uint64_t prev = 0;
    for (uint64_t d = 0; d < n_docs; ++d) {
      ends[d] = get_le(raw.data() + 8 * d, 8);
      if (ends[d] < prev || ends[d] > n_tokens)
        bad(kHeaderBytes + 8 * d, "document " + std::to_string(d) + " ends at token " + std::to_string(ends[d]) +
                                      (ends[d] < prev ? ", before the previous one (" + std::to_string(prev) + ")"
                                                      : ", past the " + std::to_string(n_tokens) + " tokens"));
      prev = ends[d];
    }
    if (prev != n_tokens)
      bad(n_docs ? kHeaderBytes + 8 * (n_docs - 1) : 32,
          "the documents end at token " + std::to_string(prev) + " but the header says " + std::to_string(n_tokens) +
              " tokens");
  }

  std::vector<Document> docs(n_docs);
  constexpr uint64_t kChunk = uint64_t(1) << 20;  // ids per read
  std::vector<unsigned char> raw;
  for (int pass = 0; pass < (has_mask ? 2 : 1); ++pass) {
    const uint64_t width = pass == 0 ? bpi : 1, base = pos;
    uint64_t d = 0, done = 0;
    while (done < n_tokens) {
      const uint64_t n = std::min(kChunk, n_tokens - done);
      raw.resize(n * width);
      read_exact(raw.data(), raw.size(), pass == 0 ? "the token ids" : "the mask");
      for (uint64_t i = 0; i < n; ++i, ++done) {
        while (done >= ends[d]) ++d;
        const uint64_t v = get_le(raw.data() + i * width, static_cast<int>(width));
        if (pass == 0) {
          if (v > static_cast<uint64_t>(INT32_MAX))
            bad(base + done * width, "token id " + std::to_string(v) + " does not fit int32");
          if (docs[d].tokens.empty()) docs[d].tokens.reserve(ends[d] - (d ? ends[d - 1] : 0));
          docs[d].tokens.push_back(static_cast<int32_t>(v));
        } else {
          if (v > 1) bad(base + done, "mask byte " + std::to_string(v) + ", must be 0 or 1");
          if (docs[d].mask.empty()) docs[d].mask.reserve(docs[d].tokens.size());
          docs[d].mask.push_back(static_cast<uint8_t>(v));
        }
      }
    }
  }
  if (!has_mask)
    for (Document& doc : docs) {
      doc.mask.assign(doc.tokens.size(), 1);
      if (!doc.mask.empty()) doc.mask[0] = 0;
    }
  return docs;
}

}  // namespace strata
