// TrainingSamples: `[train] sample_every`: greedy continuations of the configured prompts from the weights being
// trained, all prompts in one batch through a KV cache of data.seq_len positions (planned as part of the run).
#pragma once
#include <string>
#include <vector>

#include "engine/text_generator.h"
#include "model/llama_model.h"
#include "tokenizer/tokenizer.h"

namespace strata {

struct TrainingSample {
  std::string prompt, text;
  std::vector<int32_t> ids;  // the new tokens
};

class TrainingSamples {
 public:
  // Encodes the prompts (BOS + text); throws a UserError naming train.sample_prompts[i] when one leaves no room in
  // `capacity` (data.seq_len) positions.
  TrainingSamples(const Tokenizer& tok, std::vector<std::string> prompts, int new_tokens, int capacity);
  // Device bytes of one sampling (cache + decoder workspace) for `rows` prompts: what the planner adds.
  static size_t device_bytes(const ModelConfig& cfg, int rows, int capacity, bool bf16);
  // Generates from `model`'s current weights (blocks resident or streamed, as training has them).
  std::vector<TrainingSample> run(LlamaModel& model) const;

 private:
  const Tokenizer& tok_;
  std::vector<std::string> prompts_;
  std::vector<std::vector<int32_t>> ids_;
  int new_tokens_, capacity_;
};

}  // namespace strata
