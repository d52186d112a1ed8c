// The llama2 and chatml chat templates: text segments are encoded one per run of equal loss mask (so markup and
// content that share a mask are tokenized together), special tokens are appended as ids.
#include "data/chat_template.h"

#include <algorithm>
#include <string_view>

#include "core/check.h"
#include "data/document_builder.h"

namespace strata {
namespace {

// True when encode() starts every call with a word boundary: encode("a") + encode("b") == encode("a b"). That is
// SentencePiece's dummy prefix (LLaMA-2); byte-level tokenizers and BPE encode "a b" with an explicit space.
bool encode_adds_leading_space(const Tokenizer& tok) {
  std::vector<int32_t> apart, joined;
  tok.encode("a", apart);
  tok.encode("b", apart);
  tok.encode("a b", joined);
  return apart == joined;
}

// Collects text until the loss mask changes or an id comes, then encodes it in one call.
class Segments {
 public:
  Segments(const Tokenizer& tok, Document& out) : tok_(tok), out_(out) {}
  void text(std::string_view s, bool in_loss) {
    if (in_loss != loss_) flush();
    loss_ = in_loss;
    pending_ += s;
  }
  void id(int id, bool in_loss) {
    flush();
    append_id(out_, id, in_loss);
  }
  // A special token: its id when the tokenizer has one, else its text.
  void special(int id, std::string_view text_form, bool in_loss) {
    if (id >= 0) this->id(id, in_loss);
    else text(text_form, in_loss);
  }
  void flush() {
    if (!pending_.empty()) append_text(out_, tok_, pending_, loss_);
    pending_.clear();
  }

 private:
  const Tokenizer& tok_;
  Document& out_;
  std::string pending_;
  bool loss_ = false;
};

}  // namespace

ChatTemplate::ChatTemplate(ChatTemplateKind kind, const Tokenizer& tok) : kind_(kind), tok_(tok) {
  implicit_space_ = encode_adds_leading_space(tok);
  im_start_ = tok.piece_to_id("<|im_start|>");
  im_end_ = tok.piece_to_id("<|im_end|>");
}

void ChatTemplate::render(const Conversation& c, Document& out) const {
  if (kind_ == ChatTemplateKind::Llama2) render_llama2(c, out, false);
  else render_chatml(c, out, false);
}

void ChatTemplate::render_prompt(const Conversation& history, const std::string& user, Document& out) const {
  Conversation c = history;
  c.turns.push_back({user, ""});
  const size_t first = out.mask.size();
  if (kind_ == ChatTemplateKind::Llama2) render_llama2(c, out, true);
  else render_chatml(c, out, true);
  std::fill(out.mask.begin() + first, out.mask.end(), 0);
}

std::vector<int32_t> ChatTemplate::stop_ids() const {
  std::vector<int32_t> ids;
  if (tok_.eos_id() >= 0) ids.push_back(tok_.eos_id());
  if (kind_ == ChatTemplateKind::Chatml && im_end_ >= 0) ids.push_back(im_end_);
  return ids;
}

std::string ChatTemplate::stop_text() const {
  return kind_ == ChatTemplateKind::Chatml && im_end_ < 0 ? "<|im_end|>" : "";
}

void ChatTemplate::render_llama2(const Conversation& c, Document& out, bool open_last) const {
  Segments s(tok_, out);
  for (size_t i = 0; i < c.turns.size(); ++i) {
    s.id(tok_.bos_id(), false);
    s.text("[INST] ", false);
    if (i == 0 && !c.system.empty()) {
      s.text("<<SYS>>\n", false);
      s.text(c.system, false);
      s.text("\n<</SYS>>\n\n", false);
    }
    s.text(c.turns[i].user, false);
    s.text(" [/INST]", false);
    if (open_last && i + 1 == c.turns.size()) break;
    if (!implicit_space_) s.text(" ", true);
    s.text(c.turns[i].assistant, true);
    s.text(" ", true);
    s.id(tok_.eos_id(), true);
  }
  s.flush();
}

void ChatTemplate::render_chatml(const Conversation& c, Document& out, bool open_last) const {
  Segments s(tok_, out);
  s.id(tok_.bos_id(), false);
  auto masked_message = [&](std::string_view role, std::string_view content) {
    s.special(im_start_, "<|im_start|>", false);
    s.text(role, false);
    s.text("\n", false);
    s.text(content, false);
    s.special(im_end_, "<|im_end|>", false);
    s.text("\n", false);
  };
  if (!c.system.empty()) masked_message("system", c.system);
  for (size_t i = 0; i < c.turns.size(); ++i) {
    const ChatTurn& t = c.turns[i];
    masked_message("user", t.user);
    s.special(im_start_, "<|im_start|>", false);
    s.text("assistant\n", false);
    if (open_last && i + 1 == c.turns.size()) break;
    s.text(t.assistant, true);
    s.special(im_end_, "<|im_end|>", true);
    s.text("\n", false);
  }
  s.flush();
}

}  // namespace strata
