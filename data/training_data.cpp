// load_training_data: builds the tokenizer, the packed train set and the eval set (a separate file or a seeded
// held-out split of the train windows) from the [data] section, with errors that name the key or the file.
#include "data/training_data.h"

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "core/check.h"
#include "data/dataset_readers.h"

namespace strata {
namespace {

std::string human_count(size_t n) {
  char buf[32];
  if (n < 10000) return std::to_string(n);
  if (n < 10000000) std::snprintf(buf, sizeof buf, "%zuk", (n + 500) / 1000);
  else std::snprintf(buf, sizeof buf, "%.1fM", static_cast<double>(n) / 1e6);
  return buf;
}

std::vector<Document> read_source(const DataSection& cfg, const std::string& key, const std::string& path,
                                  const Tokenizer& tok) {
  STRATA_USER_CHECK(!path.empty(), key +
                                       " is empty: set it to a data file (text, .jsonl, LMFlow .json, .tok) or to "
                                       "\"synthetic\"");
  std::error_code ec;
  const auto st = std::filesystem::status(path, ec);
  STRATA_USER_CHECK(std::filesystem::exists(st), key + ": file '" + path +
                                                     "' does not exist; check the path (relative "
                                                     "paths are taken from the current folder)");
  STRATA_USER_CHECK(!std::filesystem::is_directory(st), key + ": '" + path + "' is a folder; it must name a data file");
  ReadOptions ro;
  ro.format = cfg.format;
  ro.text_field = cfg.text_field;
  ro.chat_template = cfg.chat_template;
  ro.skip_bad_records = cfg.skip_bad_records;
  ReadStats stats;
  auto docs = read_documents(path, ro, tok, &stats);
  if (stats.skipped)
    std::fprintf(stderr, "strata: warning: %s: skipped %zu malformed record(s) of %zu (data.skip_bad_records)\n",
                 path.c_str(), stats.skipped, stats.records);
  return docs;
}

size_t count_tokens(const std::vector<Document>& docs) {
  size_t n = 0;
  for (const Document& d : docs) n += d.tokens.size();
  return n;
}

// Packs (or pads, data.pack = false) `docs` and checks that at least one window of seq_len + 1 tokens came out.
PackedDataset pack(const std::vector<Document>& docs, const DataSection& cfg, const std::string& key,
                   const std::string& src) {
  const int seq_len = cfg.seq_len;
  PackedDataset set(docs, seq_len, cfg.pack);
  STRATA_USER_CHECK(set.size() > 0,
                    key + ": '" + src + "' has " + std::to_string(count_tokens(docs)) +
                        " tokens, fewer than one sequence (data.seq_len + 1 = " + std::to_string(seq_len + 1) +
                        " tokens); use more data or a smaller data.seq_len");
  return set;
}

}  // namespace

std::string TrainingData::describe() const {
  std::string s = train_source + ": " + std::to_string(num_documents) + " docs, " +
                  human_count(train_set.num_tokens()) + " tokens, " + std::to_string(train_windows.size()) +
                  " train / " + std::to_string(eval_windows.size()) + " eval windows of " +
                  std::to_string(train_set.seq_len());
  if (!eval_source.empty()) s += " (eval: " + eval_source + ")";
  return s;
}

TrainingData load_training_data(const DataSection& cfg, int micro_batch, int model_vocab, const std::string& model_dir) {
  STRATA_USER_CHECK(
      cfg.tokenizer != "model" || !model_dir.empty(),
      "data.tokenizer = \"model\" needs model.path (a model folder with tokenizer.model or tokenizer.json); "
      "a preset has no tokenizer");
  STRATA_USER_CHECK(cfg.seq_len >= 1, "data.seq_len must be >= 1, got " + std::to_string(cfg.seq_len));
  STRATA_USER_CHECK(micro_batch >= 1, "train.micro_batch must be >= 1, got " + std::to_string(micro_batch));
  TrainingData td;
  td.tokenizer = make_tokenizer(cfg.tokenizer == "model" ? model_dir : cfg.tokenizer);
  const Tokenizer& tok = *td.tokenizer;
  STRATA_USER_CHECK(tok.vocab_size() <= model_vocab,
                    "data.tokenizer: the " + tok.name() + " tokenizer has " + std::to_string(tok.vocab_size()) +
                        " ids but the model's vocab_size is " + std::to_string(model_vocab) +
                        "; use a model with vocab_size >= " + std::to_string(tok.vocab_size()) +
                        " or another tokenizer");
  td.train_source = cfg.train;
  td.eval_source = cfg.eval;

  {  // the documents are dropped once packed
    std::vector<Document> docs;
    if (cfg.train == "synthetic") {
      STRATA_USER_CHECK(cfg.synthetic_documents >= 1,
                        "data.synthetic_documents must be >= 1, got " + std::to_string(cfg.synthetic_documents));
      docs = synthetic_documents(cfg.synthetic_documents, cfg.shuffle_seed, tok);
    } else {
      docs = read_source(cfg, "data.train", cfg.train, tok);
    }
    td.num_documents = docs.size();
    td.train_set = pack(docs, cfg, "data.train", cfg.train);
  }

  if (!cfg.eval.empty()) {
    td.eval_set = pack(read_source(cfg, "data.eval", cfg.eval, tok), cfg, "data.eval", cfg.eval);
    td.train_windows.resize(td.train_set.size());
    for (size_t i = 0; i < td.train_windows.size(); ++i) td.train_windows[i] = i;
    td.eval_windows.resize(td.eval_set.size());
    for (size_t i = 0; i < td.eval_windows.size(); ++i) td.eval_windows[i] = i;
  } else {
    Split split = split_windows(td.train_set.size(), cfg.eval_fraction, cfg.shuffle_seed);
    td.train_windows = std::move(split.train);
    td.eval_windows = std::move(split.eval);
    td.eval_set = td.train_set;  // shares the packed stream
  }

  STRATA_USER_CHECK(td.train_windows.size() >= static_cast<size_t>(micro_batch),
                    "data.train: '" + cfg.train + "' gives " + std::to_string(td.train_windows.size()) +
                        " training sequences of data.seq_len = " + std::to_string(cfg.seq_len) +
                        " tokens, fewer than one micro-batch (train.micro_batch = " + std::to_string(micro_batch) +
                        "); use more data, a smaller data.seq_len or a smaller train.micro_batch");
  return td;
}

}  // namespace strata
