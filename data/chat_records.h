// Chat records: an LMFlow conversation instance or an Alpaca record (parsed JSON) checked and turned into a
// Conversation for the chat template. Errors start with `where` (file and record) and say what to fix.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "data/chat_template.h"

namespace strata {

// {"system": "..." (optional), "tools": [...] (optional, must be empty), "messages": [{"role", "content"}...]}:
// an optional leading system message, then user and assistant alternating from the user; a final user message
// without a reply is dropped (as LMFlow does). conversation_id and unknown keys are ignored.
Conversation conversation_from_lmflow(const nlohmann::json& inst, const std::string& where);

// {"instruction": "...", "input": "..." (optional, may be empty), "output": "..."}: one turn whose user message is
// the instruction, plus "\n\n" and the input when the input is not empty; the output is the reply.
Conversation conversation_from_alpaca(const nlohmann::json& rec, const std::string& where);

}  // namespace strata
