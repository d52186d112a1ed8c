// TrainingData: everything the trainer needs from the [data] section: the tokenizer, the packed train set and the
// eval set (a separate file or a held-out split), built once at start-up with clear errors for bad data.
#pragma once
#include <memory>
#include <string>

#include "data/data_loader.h"
#include "data/packed_dataset.h"
#include "tokenizer/tokenizer.h"
#include "data/data_config.h"

namespace strata {

struct TrainingData {
  std::unique_ptr<Tokenizer> tokenizer;
  PackedDataset train_set;
  PackedDataset eval_set;      // windows of `data.eval`, or the same packing as train_set when split
  std::vector<size_t> train_windows, eval_windows;  // indices into train_set / eval_set
  size_t num_documents = 0;
  std::string train_source, eval_source;  // data.train and data.eval as given (for describe())
  std::string describe() const;  // "synthetic: 2000 docs, 412k tokens, 6100 train / 321 eval windows of 64"
};

// Throws naming the key (data.train, data.format, ...) or the file: missing file, unknown format, empty dataset,
// fewer windows than one micro-batch, tokenizer ids that do not fit `model_vocab`.
// model_dir: the model folder, for data.tokenizer = "model" (empty for presets: then "model" is an error).
TrainingData load_training_data(const DataSection& cfg, int micro_batch, int model_vocab,
                                const std::string& model_dir = "");

}  // namespace strata
