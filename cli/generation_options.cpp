// Flag values of the generation commands, parsed with the same enum tables (and typo hints) as the config keys.
#include "cli/generation_options.h"

#include <cstdio>

#include "core/enum_names.h"

namespace strata {

InferenceOptions inference_options(const GenerationArgs& a) {
  InferenceOptions o;
  o.backend = a.backend;
  if (a.precision != "auto") o.precision = parse_enum<Precision>(a.precision, "--precision (or auto)");
  o.blocks = parse_enum<FrozenTier>(a.blocks, "--blocks");
  o.disk_path = a.disk_path;
  o.prefetch = a.prefetch;
  o.tokenizer = a.tokenizer;
  o.log = [](const std::string& m) { std::fprintf(stderr, "%s\n", m.c_str()); };
  return o;
}

GenerateOptions generate_options(const GenerationArgs& a) {
  GenerateOptions o;
  o.max_new_tokens = a.max_new_tokens;
  o.sampling.temperature = (float)a.temperature;
  o.sampling.top_k = a.top_k;
  o.sampling.top_p = (float)a.top_p;
  o.seed = a.seed;
  validate(o.sampling);
  return o;
}

std::optional<ChatTemplateKind> chat_template_kind(const std::string& name) {
  if (name.empty() || name == "none") return std::nullopt;
  return parse_enum<ChatTemplateKind>(name, "--chat-template (or none)");
}

std::string speed_line(const GenerationStats& s) {
  char buf[200];
  std::snprintf(buf, sizeof buf, "prompt: %zu tokens, %.1f tokens/s | generated: %zu tokens, %.1f tokens/s",
                s.prompt_tokens, s.prompt_tokens_per_second(), s.new_tokens, s.new_tokens_per_second());
  return buf;
}

}  // namespace strata
