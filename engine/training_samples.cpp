// TrainingSamples: prompts encoded once; each sampling builds a decoder (freed right after, so its memory exists
// only while it runs) and stops each row at EOS, the token limit or the end of the context.
#include "engine/training_samples.h"

#include "core/check.h"
#include "engine/reply_text.h"
#include "model/llama_decoder.h"

namespace strata {

TrainingSamples::TrainingSamples(const Tokenizer& tok, std::vector<std::string> prompts, int new_tokens, int capacity)
    : tok_(tok), prompts_(std::move(prompts)), new_tokens_(new_tokens), capacity_(capacity) {
  for (size_t i = 0; i < prompts_.size(); ++i) {
    std::vector<int32_t> ids;
    if (tok.bos_id() >= 0) ids.push_back(tok.bos_id());
    tok.encode(prompts_[i], ids);
    STRATA_USER_CHECK((int)ids.size() < capacity,
                      "train.sample_prompts[" + std::to_string(i) + "] is " + std::to_string(ids.size()) +
                          " tokens: no room to generate within data.seq_len = " + std::to_string(capacity) +
                          "; shorten it");
    ids_.push_back(std::move(ids));
  }
}

size_t TrainingSamples::device_bytes(const ModelConfig& cfg, int rows, int capacity, bool bf16) {
  return LlamaDecoder::device_bytes(cfg, rows, capacity, bf16);
}

std::vector<TrainingSample> TrainingSamples::run(LlamaModel& model) const {
  LlamaDecoder dec(model, (int)ids_.size(), capacity_);
  GenerateOptions go;
  go.max_new_tokens = new_tokens_;
  if (tok_.eos_id() >= 0) go.stop_ids = {tok_.eos_id()};
  const std::vector<Generation> gens = generate_tokens(dec, ids_, go);
  std::vector<TrainingSample> out;
  for (size_t i = 0; i < gens.size(); ++i) {
    ReplyText text(tok_, go.stop_ids);
    for (int32_t id : gens[i].ids) text.add(id);
    out.push_back({prompts_[i], text.text(), gens[i].ids});
  }
  return out;
}

}  // namespace strata
