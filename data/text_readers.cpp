// read_documents: reads a dataset file record by record (RecordSource) and encodes each record (RecordEncoder)
// into Documents in file order; token files go through read_token_file. `strata tokenize` runs the same two steps
// on several threads (tokenize_pipeline.cpp), so both give the same documents.
#include <string>
#include <vector>

#include "core/check.h"
#include "data/dataset_readers.h"
#include "data/record_encoder.h"
#include "data/record_source.h"

namespace strata {
namespace {

// Token files carry ids already; they must fit the tokenizer the model is trained with.
std::vector<Document> read_tokens(const std::string& path, const Tokenizer& tok) {
  std::vector<Document> docs = read_token_file(path);
  const int vocab = tok.vocab_size();
  for (size_t d = 0; d < docs.size(); ++d)
    for (size_t t = 0; t < docs[d].tokens.size(); ++t)
      STRATA_USER_CHECK(docs[d].tokens[t] < vocab,
                        path + ": document " + std::to_string(d) + " token " + std::to_string(t) + " is id " +
                            std::to_string(docs[d].tokens[t]) + ", outside the " + std::to_string(vocab) +
                            " ids of the " + tok.name() +
                            " tokenizer; set data.tokenizer to the one the file was written with");
  return docs;
}

}  // namespace

std::vector<Document> read_documents(const std::string& path, const ReadOptions& opts, const Tokenizer& tok,
                                     ReadStats* stats) {
  ReadStats local;
  ReadStats& st = stats ? *stats : local;
  const DataFormat f = resolve_format(path, opts.format);
  if (f == DataFormat::Tokens) {
    std::vector<Document> docs = read_tokens(path, tok);
    st.records += docs.size();
    return docs;
  }
  const auto src = open_record_source(path, f);
  const RecordEncoder enc(src->kind(), path, opts, tok);
  std::vector<Document> docs;
  Document doc;
  for (Record r; src->next(r);) {
    ++st.records;
    if (!enc.encode(r, doc)) {
      ++st.skipped;
      continue;
    }
    docs.push_back(std::move(doc));
    doc = Document{};
  }
  return docs;
}

}  // namespace strata
