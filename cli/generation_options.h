// What `strata generate` and `strata chat` share: their flags turned into loading and sampling options, the chat
// template by name, and the closing speed line.
#pragma once
#include <optional>

#include "cli/commands.h"
#include "data/chat_template.h"
#include "engine/inference_model.h"
#include "engine/text_generator.h"

namespace strata {

InferenceOptions inference_options(const GenerationArgs& a);
GenerateOptions generate_options(const GenerationArgs& a);
// --chat-template: empty -> none (generate only); else llama2 | chatml, with a "did you mean".
std::optional<ChatTemplateKind> chat_template_kind(const std::string& name);
// "prompt: 12 tokens, 850.3 tokens/s | generated: 40 tokens, 95.1 tokens/s"
std::string speed_line(const GenerationStats& s);

}  // namespace strata
