// Checks LMFlow conversation instances and Alpaca records field by field (types, roles, turn order) and builds the
// Conversation the chat template renders.
#include "data/chat_records.h"

#include "core/check.h"

namespace strata {
namespace {

using nlohmann::json;

const char* kConversationShape =
    "{\"system\": \"...\", \"messages\": [{\"role\": \"user\", \"content\": \"...\"}, {\"role\": \"assistant\", "
    "\"content\": \"...\"}]}";
const char* kAlpacaShape = "{\"instruction\": \"...\", \"input\": \"...\", \"output\": \"...\"}";

std::string type_name(const json& j) {  // "an array", "a number", ...
  const std::string t = j.type_name();
  return (t == "array" || t == "object" ? "an " : "a ") + t;
}

// A string field that may be missing or null (then "").
std::string optional_string(const json& obj, const char* key, const std::string& where) {
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return "";
  STRATA_USER_CHECK(it->is_string(), where + "\"" + key + "\" is " + type_name(*it) + ", expected a string");
  return it->get<std::string>();
}

const std::string& required_string(const json& obj, const char* key, const std::string& where, const char* shape) {
  const auto it = obj.find(key);
  STRATA_USER_CHECK(it != obj.end(), where + "missing \"" + key + "\"; records of this format look like " + shape);
  STRATA_USER_CHECK(it->is_string(), where + "\"" + key + "\" is " + type_name(*it) + ", expected a string");
  return it->get_ref<const std::string&>();
}

}  // namespace

Conversation conversation_from_lmflow(const json& inst, const std::string& where) {
  STRATA_USER_CHECK(inst.is_object(),
                    where + "expected an object " + kConversationShape + ", found " + type_name(inst));
  Conversation c;
  c.system = optional_string(inst, "system", where);
  if (const auto tools = inst.find("tools"); tools != inst.end() && !tools->is_null()) {
    STRATA_USER_CHECK(tools->is_array(),
                      where + "\"tools\" is " + type_name(*tools) + ", expected an array of strings");
    for (const json& t : *tools) {
      STRATA_USER_CHECK(t.is_string(), where + "\"tools\" holds " + type_name(t) + ", expected strings");
      STRATA_USER_CHECK(t.get_ref<const std::string&>().empty(),
                        where +
                            "\"tools\" is not empty: the llama2 and chatml templates have no place for tool "
                            "descriptions (LMFlow ignores them too); put them into \"system\" or remove them");
    }
  }
  const auto msgs = inst.find("messages");
  STRATA_USER_CHECK(msgs != inst.end(),
                    where + "missing \"messages\"; conversation instances look like " + kConversationShape);
  STRATA_USER_CHECK(msgs->is_array(), where + "\"messages\" is " + type_name(*msgs) + ", expected an array");
  STRATA_USER_CHECK(!msgs->empty(), where +
                                        "\"messages\" is empty; a conversation needs a user message and the "
                                        "assistant's reply");
  const std::string* pending_user = nullptr;
  for (size_t k = 0; k < msgs->size(); ++k) {
    const json& m = (*msgs)[k];
    const std::string at = where + "message " + std::to_string(k) + ": ";
    STRATA_USER_CHECK(m.is_object(), at +
                                         "expected an object {\"role\": \"user\" | \"assistant\" | \"system\", "
                                         "\"content\": \"...\"}, found " +
                                         type_name(m));
    const char* shape = "{\"role\": \"...\", \"content\": \"...\"}";
    const std::string& role = required_string(m, "role", at, shape);
    const std::string& content = required_string(m, "content", at, shape);
    if (role == "system") {
      STRATA_USER_CHECK(k == 0, at + "a system message may only come first (or go into the instance's \"system\")");
      STRATA_USER_CHECK(c.system.empty(), at + "a system message, but the instance's \"system\" is set too; keep one");
      c.system = content;
    } else if (role == "user" || role == "assistant") {
      const bool want_user = pending_user == nullptr;
      STRATA_USER_CHECK((role == "user") == want_user,
                        at + "from the " + role + " where the " + (want_user ? "user" : "assistant") +
                            " was expected; messages alternate user, assistant, user, ... starting with the user");
      if (want_user) pending_user = &content;
      else {
        c.turns.push_back({*pending_user, content});
        pending_user = nullptr;
      }
    } else {
      STRATA_USER_FAIL(at + "unknown role " + json(role).dump() + "; the roles are user, assistant and system");
    }
  }
  STRATA_USER_CHECK(!c.turns.empty(), where +
                                          "no assistant reply; a conversation needs a user message followed by the "
                                          "assistant's (a last user message without a reply is dropped)");
  return c;
}

Conversation conversation_from_alpaca(const json& rec, const std::string& where) {
  STRATA_USER_CHECK(rec.is_object(), where + "expected an object " + kAlpacaShape + ", found " + type_name(rec));
  const std::string& instruction = required_string(rec, "instruction", where, kAlpacaShape);
  const std::string input = optional_string(rec, "input", where);
  const std::string& output = required_string(rec, "output", where, kAlpacaShape);
  Conversation c;
  c.turns.push_back({input.empty() ? instruction : instruction + "\n\n" + input, output});
  return c;
}

}  // namespace strata
