// DataSection: the [data] section of a run config: what to train on and how it is tokenized, templated and packed,
// with the data formats and chat templates the data layer understands. config/run_config parses and validates it.
#pragma once
#include <array>
#include <cstdint>
#include <string>

#include "core/enum_names.h"

namespace strata {

// data.format. Auto picks by extension: .tok -> Tokens, .jsonl -> Jsonl, .json -> Json, anything else -> Text.
// Json: one JSON value, an LMFlow object or an Alpaca array, told apart by its content.
enum class DataFormat { Auto, Tokens, Text, Jsonl, Lmflow, Alpaca, Json };
constexpr std::array<EnumName<DataFormat>, 7> enum_names(DataFormat) {
  return {{{DataFormat::Auto, "auto"},
           {DataFormat::Tokens, "tokens"},
           {DataFormat::Text, "text"},
           {DataFormat::Jsonl, "jsonl"},
           {DataFormat::Lmflow, "lmflow"},
           {DataFormat::Alpaca, "alpaca"},
           {DataFormat::Json, "json"}}};
}

// data.chat_template: how LMFlow conversation and Alpaca records are laid out (chat_template.h).
enum class ChatTemplateKind { Llama2, Chatml };
constexpr std::array<EnumName<ChatTemplateKind>, 2> enum_names(ChatTemplateKind) {
  return {{{ChatTemplateKind::Llama2, "llama2"}, {ChatTemplateKind::Chatml, "chatml"}}};
}

struct DataSection {             // [data]
  std::string train;             // file path, or "synthetic" (seeded generated stories, the built-in default)
  DataFormat format = DataFormat::Auto;
  std::string eval;              // optional separate eval file (same formats); else a held-out split of train
  double eval_fraction = 0.05;   // [0, 0.5]; fraction of packed sequences held out when `eval` is empty
  std::string text_field = "text";  // JSONL field holding the text
  std::string tokenizer = "byte";   // byte | a tokenizer.model / tokenizer.json | a folder holding one | "model"
                                    // (the tokenizer in model.path)
  ChatTemplateKind chat_template = ChatTemplateKind::Llama2;
  bool skip_bad_records = false;  // skip and count malformed records instead of stopping
  int seq_len = 64;              // tokens per training sequence, <= the model's max_seq_len
  bool pack = true;              // pack documents back to back into windows; false: pad each to whole windows
  uint64_t shuffle_seed = 1;
  int synthetic_documents = 2000;  // number of generated documents when train = "synthetic"
};

}  // namespace strata
