// generate_tokens: the generation loop over a LlamaDecoder: all prompts in one batched prefill, then one token per
// unfinished row per step, chosen by the token sampler, until a stop id, the token limit or the context's end.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "engine/token_sampler.h"
#include "model/llama_decoder.h"

namespace strata {

struct GenerateOptions {
  int max_new_tokens = 128;
  SamplingOptions sampling;
  uint64_t seed = 0;               // row r draws from its own generator (seed, r): no dependence on the batch
  std::vector<int32_t> stop_ids;   // generation of a row ends after one of these (it is kept in the ids)
};

enum class StopReason { StopId, StopText, Limit, Context };
const char* to_string(StopReason r);

struct Generation {
  std::vector<int32_t> ids;  // the new tokens, a final stop id included
  StopReason reason = StopReason::Limit;
};

struct GenerationStats {
  size_t prompt_tokens = 0, new_tokens = 0;
  double prompt_seconds = 0, new_seconds = 0;  // the batched prefill; every step after it
  double prompt_tokens_per_second() const { return prompt_seconds > 0 ? prompt_tokens / prompt_seconds : 0; }
  double new_tokens_per_second() const { return new_seconds > 0 ? new_tokens / new_seconds : 0; }
};

// One callback per chosen token, in order (row, id), for streaming output; returning true ends that row (a stop
// text the caller found in the decoded reply), with StopReason::StopText.
using TokenCallback = std::function<bool(int row, int32_t id)>;

// Generates for prompts.size() rows (at most decoder.rows(); each prompt non-empty) from an empty decoder
// (it is reset first). A prompt that fills the whole context is refused with a UserError naming it.
std::vector<Generation> generate_tokens(LlamaDecoder& decoder, const std::vector<std::vector<int32_t>>& prompts,
                                        const GenerateOptions& opts, GenerationStats* stats = nullptr,
                                        const TokenCallback& on_token = {});

}  // namespace strata
