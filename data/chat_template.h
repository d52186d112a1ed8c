// Chat templates: lay out a conversation (optional system prompt, then user/assistant turns) as one Document for
// the tokenizer at hand, with only the assistant replies and the token closing each reply in the loss.
#pragma once
#include <string>
#include <vector>

#include "data/data_config.h"
#include "data/document.h"
#include "tokenizer/tokenizer.h"

namespace strata {

struct ChatTurn {
  std::string user, assistant;
};

struct Conversation {
  std::string system;  // empty: none
  std::vector<ChatTurn> turns;
};

// Llama2: per turn BOS "[INST] " [<<SYS>>\n{system}\n<</SYS>>\n\n on the first] "{user} [/INST]" then
//   " {assistant} " EOS, with BOS/EOS as the tokenizer's ids. A tokenizer whose encode() starts every call with a
//   word boundary (SentencePiece's dummy prefix, as LLaMA-2's) supplies the space before the reply itself, so the
//   ids match tokenizing the whole conversation at once.
// Chatml: a BOS when the tokenizer has one, then "<|im_start|>{role}\n{content}<|im_end|>\n" per message
//   (system first when set); <|im_start|> / <|im_end|> are the tokenizer's special tokens when piece_to_id knows
//   them, else plain text.
// Loss: the reply text and the EOS / <|im_end|> after it; everything else (BOS, system, user, markup) is masked.
class ChatTemplate {
 public:
  ChatTemplate(ChatTemplateKind kind, const Tokenizer& tok);
  ChatTemplateKind kind() const { return kind_; }
  // Appends the conversation to `out`. Thread-safe (const, and the tokenizer's encode is).
  void render(const Conversation& c, Document& out) const;
  // A prompt for generation: the conversation's turns, then `user` in an open turn that ends where the assistant's
  // reply begins (llama2: after " [/INST]"; chatml: after "<|im_start|>assistant\n"). The mask marks nothing.
  void render_prompt(const Conversation& history, const std::string& user, Document& out) const;
  // The ids that end a reply: EOS, and <|im_end|> for chatml when the tokenizer has it as one token.
  std::vector<int32_t> stop_ids() const;
  // Text that ends a reply when the tokenizer spells the closing marker as text ("<|im_end|>"); empty: none.
  std::string stop_text() const;

 private:
  // open_last: the last turn's reply is left open (render_prompt) instead of rendered and closed.
  void render_llama2(const Conversation& c, Document& out, bool open_last) const;
  void render_chatml(const Conversation& c, Document& out, bool open_last) const;

  ChatTemplateKind kind_;
  const Tokenizer& tok_;
  bool implicit_space_ = false;  // encode() begins every call with a word boundary
  int im_start_ = -1, im_end_ = -1;
};

}  // namespace strata
