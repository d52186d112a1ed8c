// InferenceModel: any model path (HF folder, run folder, checkpoint) made ready for generation on a backend: its
// weights in the chosen precision, frozen blocks resident or streamed from the host or disk tier, and its tokenizer.
#pragma once
#include <memory>
#include <optional>
#include <string>

#include "backend/backend.h"
#include "engine/streamed_model.h"
#include "model/llama_model.h"
#include "offload/block_placement.h"
#include "tokenizer/tokenizer.h"

namespace strata {

struct InferenceOptions {
  std::string backend = "cpu";
  std::optional<Precision> precision;  // empty: the run's train.precision; f32 for an HF folder
  FrozenTier blocks = FrozenTier::Device;  // where the blocks live: device, host or disk (streamed per pass)
  std::string disk_path;                   // the disk tier's file (must not exist); empty: a temporary file
  int prefetch = 2;
  DiskIo io = DiskIo::Auto;
  std::string tokenizer;  // a spec (see make_tokenizer); empty: the model's own (HF folder files, the run's config)
  std::function<void(const std::string&)> log;  // progress and warnings; null: none
};

class InferenceModel {
 public:
  InferenceModel(const std::string& path, const InferenceOptions& opts);
  ~InferenceModel();

  Backend& backend() { return *backend_; }
  LlamaModel& model() { return *model_; }
  const ModelInfo& info() const { return source_->info(); }
  const std::string& description() const { return source_->description(); }
  // The tokenizer, or null when the model has none and none was given.
  const Tokenizer* tokenizer() const { return tokenizer_.get(); }
  // "the model has no tokenizer ..." with what to pass instead; for a UserError when text is given.
  std::string no_tokenizer_hint() const { return no_tokenizer_hint_; }
  std::string placement() const { return placement_ ? placement_->describe() : "all blocks resident"; }

 private:
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<StreamedModel> source_;
  std::unique_ptr<LlamaModel> model_;
  std::unique_ptr<BlockPlacement> placement_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::string temp_disk_path_;  // removed by the destructor
  std::string no_tokenizer_hint_;
};

}  // namespace strata
