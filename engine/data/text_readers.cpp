// read_documents: picks the reader for data.format (or the file extension) and turns plain text, JSONL and LMFlow
// JSON files into Documents; token files go through read_token_file. Errors name the file and line / instance.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/check.h"
#include "engine/data/dataset_readers.h"
#include "engine/data/document_builder.h"

namespace strata {
namespace {

using nlohmann::json;

std::ifstream open_input(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    STRATA_FAIL("cannot open " + path + ": " + (err ? std::strerror(err) : "unreadable") +
                "; check the path and its permissions");
  }
  return in;
}

std::string resolve_format(const std::string& path, const std::string& format) {
  if (format == "tokens" || format == "text" || format == "jsonl" || format == "lmflow") return format;
  STRATA_CHECK(format == "auto", "data.format: unknown format '" + format + "' (reading " + path +
                                     "); the choices are auto, tokens, text, jsonl, lmflow");
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  if (ext == ".tok") return "tokens";
  if (ext == ".jsonl") return "jsonl";
  if (ext == ".json") return "lmflow";
  return "text";
}

// The whole file is one document. It is read in 1 MiB chunks and encoded up to the last newline of what is
// pending, so only the token ids (not the text as well) are held for a big file and no line is cut for a
// tokenizer that merges across bytes; a run of 16 MiB without a newline is encoded as it is.
std::vector<Document> read_text(const std::string& path, const Tokenizer& tok) {
  std::ifstream in = open_input(path);
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  DocumentBuilder doc(tok);
  if (!ec) doc.reserve(static_cast<size_t>(size) + 2);
  constexpr size_t kChunk = size_t(1) << 20, kMaxPending = size_t(16) << 20;
  std::string pending, chunk(kChunk, '\0');
  size_t total = 0;
  while (in) {
    in.read(chunk.data(), static_cast<std::streamsize>(kChunk));
    pending.append(chunk.data(), static_cast<size_t>(in.gcount()));
    total += static_cast<size_t>(in.gcount());
    const size_t nl = pending.rfind('\n');
    if (nl != std::string::npos) {
      doc.add(std::string_view(pending).substr(0, nl + 1), true);
      pending.erase(0, nl + 1);
    } else if (pending.size() >= kMaxPending) {
      doc.add(pending, true);
      pending.clear();
    }
  }
  STRATA_CHECK(in.eof(), "cannot read " + path + ": read error after " + std::to_string(total) + " bytes");
  doc.add(pending, true);
  std::vector<Document> docs;
  docs.push_back(doc.finish());
  return docs;
}

std::string type_name(const json& j) {  // "an array", "a number", ...
  const std::string t = j.type_name();
  return (t == "array" || t == "object" ? "an " : "a ") + t;
}

// One document per non-blank line: a JSON object whose `field` holds the text.
std::vector<Document> read_jsonl(const std::string& path, const Tokenizer& tok, const std::string& field) {
  std::ifstream in = open_input(path);
  std::vector<Document> docs;
  DocumentBuilder doc(tok);
  std::string line;
  for (size_t line_no = 1; std::getline(in, line); ++line_no) {
    if (line.find_first_not_of(" \t\r\n\f\v") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(line_no) + ": ";
    json j;
    try {
      j = json::parse(line);
    } catch (const json::parse_error& e) {
      STRATA_FAIL(where + "not valid JSON (" + e.what() + "); each line must be one JSON object like {\"" + field +
                  "\": \"...\"}");
    }
    STRATA_CHECK(j.is_object(), where + "expected a JSON object with a string field \"" + field + "\", found " +
                                    type_name(j));
    const auto it = j.find(field);
    STRATA_CHECK(it != j.end(), where + "the object has no field \"" + field +
                                    "\"; set data.text_field to the field that holds the text");
    STRATA_CHECK(it->is_string(), where + "field \"" + field + "\" is " + type_name(*it) + ", expected a string");
    doc.add(it->get_ref<const std::string&>(), true);
    docs.push_back(doc.finish());
  }
  STRATA_CHECK(in.eof(), "cannot read " + path + ": read error");
  return docs;
}

const std::string& string_field(const json& inst, const char* key, const std::string& where, const char* shape) {
  STRATA_CHECK(inst.is_object(), where + "expected an object " + shape + ", found " + type_name(inst));
  const auto it = inst.find(key);
  STRATA_CHECK(it != inst.end(), where + "missing \"" + key + "\"; instances of this type look like " + shape);
  STRATA_CHECK(it->is_string(), where + "\"" + key + "\" is " + type_name(*it) + ", expected a string");
  return it->get_ref<const std::string&>();
}

// LMFlow dataset JSON: {"type": "text_only" | "text2text", "instances": [...]}.
std::vector<Document> read_lmflow(const std::string& path, const Tokenizer& tok) {
  std::ifstream in = open_input(path);
  json j;
  try {
    j = json::parse(in);
  } catch (const json::parse_error& e) {
    STRATA_FAIL(path + ": not valid JSON (" + e.what() + ")");
  }
  const std::string shape = "{\"type\": \"text_only\" | \"text2text\", \"instances\": [...]}";
  STRATA_CHECK(j.is_object(), path + ": an LMFlow dataset is a JSON object " + shape + ", found " + type_name(j) +
                                  (j.is_array() ? " (for one JSON object per line use a .jsonl file or "
                                                  "data.format = \"jsonl\")"
                                                : ""));
  const auto type_it = j.find("type");
  STRATA_CHECK(type_it != j.end() && type_it->is_string(),
               path + ": missing or non-string \"type\"; an LMFlow dataset is " + shape);
  const std::string type = type_it->get<std::string>();
  const auto inst_it = j.find("instances");
  STRATA_CHECK(inst_it != j.end() && inst_it->is_array(),
               path + ": missing \"instances\" array; an LMFlow dataset is " + shape);
  const bool text2text = type == "text2text";
  STRATA_CHECK(text2text || type == "text_only",
               path + ": LMFlow type \"" + type + "\" is not supported yet" +
                   (type == "conversation" || type == "paired_conversation"
                        ? " (conversations need the chat templates that come with the tokenizers issue)"
                        : "") +
                   "; use \"text_only\" or \"text2text\"");
  std::vector<Document> docs;
  docs.reserve(inst_it->size());
  DocumentBuilder doc(tok);
  for (size_t i = 0; i < inst_it->size(); ++i) {
    const json& inst = (*inst_it)[i];
    const std::string where = path + ": instance " + std::to_string(i) + ": ";
    if (text2text) {
      const char* s = "{\"input\": \"...\", \"output\": \"...\"}";
      doc.add(string_field(inst, "input", where, s), false);
      doc.add(string_field(inst, "output", where, s), true);
    } else {
      doc.add(string_field(inst, "text", where, "{\"text\": \"...\"}"), true);
    }
    docs.push_back(doc.finish());
  }
  return docs;
}

// Token files carry ids already; they must fit the tokenizer the model is trained with.
std::vector<Document> read_tokens(const std::string& path, const Tokenizer& tok) {
  std::vector<Document> docs = read_token_file(path);
  const int vocab = tok.vocab_size();
  for (size_t d = 0; d < docs.size(); ++d)
    for (size_t t = 0; t < docs[d].tokens.size(); ++t)
      STRATA_CHECK(docs[d].tokens[t] < vocab,
                   path + ": document " + std::to_string(d) + " token " + std::to_string(t) + " is id " +
                       std::to_string(docs[d].tokens[t]) + ", outside the " + std::to_string(vocab) + " ids of the " +
                       tok.name() + " tokenizer; set data.tokenizer to the one the file was written with");
  return docs;
}

}  // namespace

std::vector<Document> read_documents(const std::string& path, const ReadOptions& opts, const Tokenizer& tok,
                                     ReadStats* stats) {
  (void)stats;
  const std::string& format = opts.format;
  const std::string& text_field = opts.text_field;
  const std::string f = resolve_format(path, format);
  if (f == "tokens") return read_tokens(path, tok);
  if (f == "jsonl") return read_jsonl(path, tok, text_field);
  if (f == "lmflow") return read_lmflow(path, tok);
  return read_text(path, tok);
}

}  // namespace strata
