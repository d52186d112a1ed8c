// DocumentBuilder: assembles one Document as BOS + encoded text pieces + EOS with the loss mask of each piece,
// shared by the text, JSONL, LMFlow and synthetic readers so every format masks BOS the same way.
#pragma once
#include <string_view>
#include <utility>

#include "engine/data/document.h"
#include "engine/data/tokenizer.h"

namespace strata {

class DocumentBuilder {
 public:
  // Starts the document with BOS, masked out: nothing in the document precedes it to predict it from.
  explicit DocumentBuilder(const Tokenizer& tok) : tok_(tok) { start(); }

  // Appends the ids of `text`; in_loss sets their mask (LMFlow text2text keeps its input out of the loss).
  void add(std::string_view text, bool in_loss) {
    tok_.encode(text, doc_.tokens);
    doc_.mask.resize(doc_.tokens.size(), in_loss ? 1 : 0);
  }
  void reserve(size_t n) {
    doc_.tokens.reserve(n);
    doc_.mask.reserve(n);
  }
  // Appends EOS (in the loss: the model learns where documents end), hands the document over and starts the next.
  Document finish() {
    doc_.tokens.push_back(tok_.eos_id());
    doc_.mask.push_back(1);
    Document out = std::move(doc_);
    doc_ = Document{};
    start();
    return out;
  }

 private:
  void start() {
    doc_.tokens.push_back(tok_.bos_id());
    doc_.mask.push_back(0);
  }

  const Tokenizer& tok_;
  Document doc_;
};

}  // namespace strata
