// `strata chat`: a terminal loop: each line is a user turn, rendered with the chat template after the history that
// still fits the context (oldest turns dropped first), answered with streamed text; /reset clears, /exit ends.
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>

#include "cli/commands.h"
#include "cli/generation_options.h"
#include "core/check.h"
#include "core/enum_names.h"
#include "engine/reply_text.h"

namespace strata {

namespace {
std::string trimmed(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}
}  // namespace

int run_chat(const GenerationArgs& a) {
  const std::optional<ChatTemplateKind> tmpl = chat_template_kind(a.chat_template);
  STRATA_USER_CHECK(tmpl.has_value(), "strata chat needs a chat template: --chat-template llama2 or chatml");
  GenerateOptions go = generate_options(a);
  InferenceModel im(a.model, inference_options(a));
  STRATA_USER_CHECK(im.tokenizer(), im.no_tokenizer_hint());
  const Tokenizer& tok = *im.tokenizer();
  const ChatTemplate chat(*tmpl, tok);
  go.stop_ids = chat.stop_ids();
  const int context = im.info().config.max_seq_len;
  LlamaDecoder dec(im.model(), 1, context);
  std::fprintf(stderr, "chat with %s (%s template, context %d tokens; /reset clears the history, /exit ends)\n",
               im.description().c_str(), enum_name(*tmpl).data(), context);
  Conversation history{a.system, {}};
  std::string line;
  for (;;) {
    std::printf("> ");
    std::fflush(stdout);
    if (!std::getline(std::cin, line)) break;
    const std::string user = trimmed(line);
    if (user.empty()) continue;
    if (user == "/exit" || user == "/quit") break;
    if (user == "/reset") {
      history.turns.clear();
      std::printf("(history cleared)\n");
      continue;
    }
    // The prompt with as much history as leaves room for a reply of up to --max-new-tokens (at least one token).
    Document d;
    for (;;) {
      d = Document{};
      chat.render_prompt(history, user, d);
      if ((int)d.tokens.size() + go.max_new_tokens <= context || history.turns.empty()) break;
      history.turns.erase(history.turns.begin());
    }
    if ((int)d.tokens.size() >= context) {
      std::printf("(the message is %zu tokens: too long for the context of %d; say it in fewer words)\n",
                  d.tokens.size(), context);
      continue;
    }
    ReplyText reply(tok, go.stop_ids, chat.stop_text());
    GenerationStats stats;
    generate_tokens(dec, {d.tokens}, go, &stats, [&](int, int32_t id) {
      const std::string fresh = reply.add(id);
      std::fwrite(fresh.data(), 1, fresh.size(), stdout);
      std::fflush(stdout);
      return reply.stopped_by_text();
    });
    std::printf("\n");
    std::fflush(stdout);
    std::fprintf(stderr, "(%s)\n", speed_line(stats).c_str());
    history.turns.push_back({user, trimmed(reply.text())});
  }
  std::printf("\n");
  return 0;
}

}  // namespace strata
