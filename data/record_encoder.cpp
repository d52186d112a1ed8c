// RecordEncoder: parses a record's JSON, checks its fields, and lays out its tokens and loss mask for the text,
// JSONL, LMFlow (text_only, text2text, conversation) and Alpaca formats.
#include "data/record_encoder.h"

#include <string_view>

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "data/chat_records.h"
#include "data/document_builder.h"

namespace strata {
namespace {

using nlohmann::json;

std::string type_name(const json& j) {  // "an array", "a number", ...
  const std::string t = j.type_name();
  return (t == "array" || t == "object" ? "an " : "a ") + t;
}

const std::string& string_field(const json& inst, const char* key, const std::string& where, const char* shape) {
  STRATA_USER_CHECK(inst.is_object(), where + "expected an object " + shape + ", found " + type_name(inst));
  const auto it = inst.find(key);
  STRATA_USER_CHECK(it != inst.end(), where + "missing \"" + key + "\"; instances of this type look like " + shape);
  STRATA_USER_CHECK(it->is_string(), where + "\"" + key + "\" is " + type_name(*it) + ", expected a string");
  return it->get_ref<const std::string&>();
}

// BOS + text + EOS, all but BOS in the loss.
void text_document(Document& out, const Tokenizer& tok, std::string_view text) {
  append_id(out, tok.bos_id(), false);
  append_text(out, tok, text, true);
  append_id(out, tok.eos_id(), true);
}

}  // namespace

RecordEncoder::RecordEncoder(RecordKind kind, const std::string& path, const ReadOptions& opts, const Tokenizer& tok)
    : kind_(kind), path_(path), opts_(opts), tok_(tok) {
  if (kind == RecordKind::kConversation || kind == RecordKind::kAlpaca) chat_.emplace(opts.chat_template, tok);
}

std::string RecordEncoder::where(const Record& r) const {
  const std::string idx = std::to_string(r.index), line = std::to_string(r.line);
  switch (kind_) {
    case RecordKind::kJsonl: return path_ + ":" + line + ": record " + idx + ": ";
    case RecordKind::kAlpaca: return path_ + ": record " + idx + " (line " + line + "): ";
    default: return path_ + ": instance " + idx + " (line " + line + "): ";
  }
}

bool RecordEncoder::encode(const Record& r, Document& out) const {
  out.tokens.clear();
  out.mask.clear();
  if (kind_ == RecordKind::kText) {  // the whole file, encoded in one call: nothing to check
    text_document(out, tok_, r.text);
    return true;
  }
  nlohmann::json j;
  Checked c;
  try {
    c = check(r, j);
  } catch (const StrataError&) {
    if (!opts_.skip_bad_records) throw;
    return false;
  }
  if (c.chat) {
    chat_->render(*c.chat, out);
  } else if (c.input) {  // text2text
    append_id(out, tok_.bos_id(), false);
    append_text(out, tok_, *c.input, false);
    append_text(out, tok_, *c.text, true);
    append_id(out, tok_.eos_id(), true);
  } else {
    text_document(out, tok_, *c.text);
  }
  return true;
}

// Parses and checks the record; the strings it points to live in `j`.
RecordEncoder::Checked RecordEncoder::check(const Record& r, nlohmann::json& j) const {
  const std::string at = where(r);
  try {
    j = json::parse(r.text);
  } catch (const json::parse_error& e) {
    STRATA_USER_FAIL(at + "not valid JSON (" + e.what() + ")" +
                     (kind_ == RecordKind::kJsonl
                          ? "; each line must be one JSON object like {\"" + opts_.text_field + "\": \"...\"}"
                          : ""));
  }
  Checked c;
  switch (kind_) {
    case RecordKind::kJsonl: {
      const std::string& field = opts_.text_field;
      STRATA_USER_CHECK(j.is_object(),
                        at + "expected a JSON object with a string field \"" + field + "\", found " + type_name(j));
      const auto it = j.find(field);
      STRATA_USER_CHECK(it != j.end(), at + "the object has no field \"" + field + "\"; set data.text_field " +
                                           "(tokenize: --text-field) to the field that holds the text");
      STRATA_USER_CHECK(it->is_string(), at + "field \"" + field + "\" is " + type_name(*it) + ", expected a string");
      c.text = &it->get_ref<const std::string&>();
      break;
    }
    case RecordKind::kTextOnly:
      c.text = &string_field(j, "text", at, "{\"text\": \"...\"}");
      break;
    case RecordKind::kText2Text: {
      const char* shape = "{\"input\": \"...\", \"output\": \"...\"}";
      c.input = &string_field(j, "input", at, shape);
      c.text = &string_field(j, "output", at, shape);
      break;
    }
    case RecordKind::kConversation:
      c.chat = conversation_from_lmflow(j, at);
      break;
    case RecordKind::kAlpaca:
      c.chat = conversation_from_alpaca(j, at);
      break;
    case RecordKind::kText:
      break;
  }
  return c;
}

}  // namespace strata
