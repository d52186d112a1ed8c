// generate_tokens: batched prefill, then per-step sampling with per-row seeded generators and stop conditions.
#include "engine/text_generator.h"

#include <algorithm>
#include <chrono>
#include <string>

#include "core/check.h"

namespace strata {

const char* to_string(StopReason r) {
  switch (r) {
    case StopReason::StopId: return "stop";
    case StopReason::StopText: return "stop_text";
    case StopReason::Limit: return "length";
    case StopReason::Context: return "context";
  }
  return "?";
}

std::vector<Generation> generate_tokens(LlamaDecoder& dec, const std::vector<std::vector<int32_t>>& prompts,
                                        const GenerateOptions& o, GenerationStats* stats,
                                        const TokenCallback& on_token) {
  using Clock = std::chrono::steady_clock;
  validate(o.sampling);
  STRATA_USER_CHECK(o.max_new_tokens >= 0, "--max-new-tokens must be >= 0, got " + std::to_string(o.max_new_tokens));
  const int R = (int)prompts.size();
  STRATA_CHECK(R > 0 && R <= dec.rows(), "generate: " + std::to_string(R) + " prompts for a decoder of " +
                                             std::to_string(dec.rows()) + " rows");
  for (int r = 0; r < R; ++r) {
    STRATA_USER_CHECK(!prompts[r].empty(), "prompt " + std::to_string(r + 1) + " is empty: give at least one token");
    STRATA_USER_CHECK((int)prompts[r].size() < dec.capacity(),
                      "prompt " + std::to_string(r + 1) + " has " + std::to_string(prompts[r].size()) +
                          " tokens: no room to generate in the model's context of " + std::to_string(dec.capacity()) +
                          " positions (max_position_embeddings); shorten it");
  }
  dec.reset();
  std::vector<std::vector<int32_t>> feed(dec.rows());
  std::copy(prompts.begin(), prompts.end(), feed.begin());
  std::vector<Generation> out(R);
  std::vector<Rng> rngs;
  for (int r = 0; r < R; ++r) rngs.emplace_back(o.seed + 0x9E3779B97F4A7C15ull * (uint64_t)r);
  std::vector<bool> active(R, o.max_new_tokens > 0);
  const int Vv = dec.vocab();
  std::vector<float> logits((size_t)dec.rows() * Vv);
  auto t0 = Clock::now();
  dec.append(feed, logits.data());
  auto t1 = Clock::now();
  if (stats) {
    for (const auto& p : prompts) stats->prompt_tokens += p.size();
    stats->prompt_seconds += std::chrono::duration<double>(t1 - t0).count();
  }
  for (;;) {
    bool any = false;
    for (auto& f : feed) f.clear();
    for (int r = 0; r < R; ++r) {
      if (!active[r]) continue;
      const int32_t id = sample_token(logits.data() + (size_t)r * Vv, Vv, o.sampling, rngs[r]);
      out[r].ids.push_back(id);
      if (stats) ++stats->new_tokens;
      const bool text_stop = on_token && on_token(r, id);
      if (text_stop) {
        out[r].reason = StopReason::StopText;
        active[r] = false;
      } else if (std::find(o.stop_ids.begin(), o.stop_ids.end(), id) != o.stop_ids.end()) {
        out[r].reason = StopReason::StopId;
        active[r] = false;
      } else if ((int)out[r].ids.size() >= o.max_new_tokens) {
        out[r].reason = StopReason::Limit;
        active[r] = false;
      } else if (dec.length(r) >= dec.capacity()) {
        out[r].reason = StopReason::Context;
        active[r] = false;
      } else {
        feed[r].push_back(id);
        any = true;
      }
    }
    if (!any) break;
    dec.append(feed, logits.data());
  }
  if (stats) stats->new_seconds += std::chrono::duration<double>(Clock::now() - t1).count();
  return out;
}

}  // namespace strata
