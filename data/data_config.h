// DataSection: the [data] section of a run config: what to train on and how it is tokenized, templated and packed.
// Declared here, with the data layer that consumes it; config/run_config parses and validates it.
#pragma once
#include <cstdint>
#include <string>

namespace strata {

struct DataSection {             // [data]
  std::string train;             // file path, or "synthetic" (seeded generated stories, the built-in default)
  std::string format = "auto";   // auto (by extension) | tokens | text | jsonl | lmflow | alpaca
  std::string eval;              // optional separate eval file (same formats); else a held-out split of train
  double eval_fraction = 0.05;   // [0, 0.5]; fraction of packed sequences held out when `eval` is empty
  std::string text_field = "text";  // JSONL field holding the text
  std::string tokenizer = "byte";   // byte | a tokenizer.model / tokenizer.json | a folder holding one | "model"
                                    // (the tokenizer in model.path)
  std::string chat_template = "llama2";  // llama2 | chatml: how LMFlow conversation and Alpaca records are laid out
  bool skip_bad_records = false;  // skip and count malformed records instead of stopping
  int seq_len = 64;              // tokens per training sequence, <= the model's max_seq_len
  bool pack = true;              // pack documents back to back into windows; false: pad each to whole windows
  uint64_t shuffle_seed = 1;
  int synthetic_documents = 2000;  // number of generated documents when train = "synthetic"
};

}  // namespace strata
