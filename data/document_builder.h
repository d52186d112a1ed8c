// DocumentBuilder: assembles one Document as BOS + encoded text pieces + EOS with the loss mask of each piece,
// shared by the readers, the chat templates and the synthetic stories so every format masks the same way.
#pragma once
#include <cstdint>
#include <string_view>
#include <utility>

#include "data/document.h"
#include "tokenizer/tokenizer.h"

namespace strata {

// Appends the ids of `text` with mask in_loss.
inline void append_text(Document& doc, const Tokenizer& tok, std::string_view text, bool in_loss) {
  tok.encode(text, doc.tokens);
  doc.mask.resize(doc.tokens.size(), in_loss ? 1 : 0);
}
// Appends one id (BOS, EOS, a special token); a negative id (the tokenizer has no such token) appends nothing.
inline void append_id(Document& doc, int id, bool in_loss) {
  if (id < 0) return;
  doc.tokens.push_back(id);
  doc.mask.push_back(in_loss ? 1 : 0);
}

class DocumentBuilder {
 public:
  // Starts the document with BOS (when the tokenizer has one), masked out: nothing in the document precedes it.
  explicit DocumentBuilder(const Tokenizer& tok) : tok_(tok) { start(); }

  // Appends the ids of `text`; in_loss sets their mask (LMFlow text2text keeps its input out of the loss).
  void add(std::string_view text, bool in_loss) { append_text(doc_, tok_, text, in_loss); }
  void reserve(size_t n) {
    doc_.tokens.reserve(n);
    doc_.mask.reserve(n);
  }
  // Appends EOS (in the loss: the model learns where documents end), hands the document over and starts the next.
  Document finish() {
    append_id(doc_, tok_.eos_id(), true);
    Document out = std::move(doc_);
    doc_ = Document{};
    start();
    return out;
  }

 private:
  void start() { append_id(doc_, tok_.bos_id(), false); }

  const Tokenizer& tok_;
  Document doc_;
};

}  // namespace strata
