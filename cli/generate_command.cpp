// `strata generate`: prompts (text, a JSONL file or token ids) through the model's tokenizer and chat template,
// generated in batches with the KV-cache decoder; text streams to stdout, or one JSON object per prompt.
#include <charconv>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/generation_options.h"
#include "core/check.h"
#include "engine/reply_text.h"

namespace strata {

namespace {

struct Prompt {
  std::string text;          // empty for --prompt-ids
  std::vector<int32_t> ids;  // filled from the text, or given
  std::string system;        // per prompt (--prompts "system" field), else --system
};

std::vector<int32_t> parse_ids(const std::string& list) {
  std::vector<int32_t> ids;
  size_t at = 0;
  while (at <= list.size()) {
    size_t end = list.find(',', at);
    if (end == std::string::npos) end = list.size();
    std::string item = list.substr(at, end - at);
    while (!item.empty() && item.front() == ' ') item.erase(item.begin());
    while (!item.empty() && item.back() == ' ') item.pop_back();
    int32_t id = 0;
    const auto [p, ec] = std::from_chars(item.data(), item.data() + item.size(), id);
    STRATA_USER_CHECK(!item.empty() && ec == std::errc() && p == item.data() + item.size() && id >= 0,
                      "--prompt-ids: '" + item + "' is not a token id (give comma-separated ids, e.g. 1,306,4966)");
    ids.push_back(id);
    at = end + 1;
  }
  return ids;
}

// One {"prompt": "...", "system": "..."?} object per line; blank lines are skipped.
std::vector<Prompt> read_prompts(const std::string& path, const std::string& system) {
  std::ifstream in(path);
  STRATA_USER_CHECK(in.good(), "--prompts " + path + ": cannot open the file");
  std::vector<Prompt> out;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(n);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      STRATA_USER_FAIL(where + ": not a JSON object (" + std::string(e.what()) + ")");
    }
    STRATA_USER_CHECK(j.is_object() && j.contains("prompt") && j["prompt"].is_string(),
                      where + ": expected an object with a \"prompt\" string, e.g. {\"prompt\": \"Once upon\"}");
    Prompt p;
    p.text = j["prompt"].get<std::string>();
    STRATA_USER_CHECK(!p.text.empty(), where + ": the prompt is empty");
    p.system = j.contains("system") && j["system"].is_string() ? j["system"].get<std::string>() : system;
    out.push_back(std::move(p));
  }
  STRATA_USER_CHECK(!out.empty(), "--prompts " + path + ": no prompts in the file");
  return out;
}

}  // namespace

int run_generate(const GenerateArgs& a) {
  const int sources = (a.has_prompt ? 1 : 0) + (a.prompts_file.empty() ? 0 : 1) + (a.prompt_ids.empty() ? 0 : 1);
  STRATA_USER_CHECK(sources == 1, "give exactly one of --prompt TEXT, --prompts FILE.jsonl or --prompt-ids 1,2,3");
  const std::optional<ChatTemplateKind> tmpl = chat_template_kind(a.gen.chat_template);
  GenerateOptions go = generate_options(a.gen);
  std::vector<Prompt> prompts;
  if (a.has_prompt) {
    STRATA_USER_CHECK(!a.prompt.empty(), "--prompt is empty: give the text to continue");
    prompts.push_back({a.prompt, {}, a.gen.system});
  } else if (!a.prompt_ids.empty()) {
    STRATA_USER_CHECK(!tmpl, "--chat-template applies to text prompts, not to --prompt-ids");
    prompts.push_back({"", parse_ids(a.prompt_ids), ""});
  } else {
    prompts = read_prompts(a.prompts_file, a.gen.system);
  }

  InferenceModel im(a.gen.model, inference_options(a.gen));
  const Tokenizer* tok = im.tokenizer();
  const ModelConfig& cfg = im.info().config;
  std::optional<ChatTemplate> chat;
  if (tmpl) {
    STRATA_USER_CHECK(tok, im.no_tokenizer_hint());
    chat.emplace(*tmpl, *tok);
  }
  for (size_t i = 0; i < prompts.size(); ++i) {
    Prompt& p = prompts[i];
    if (p.ids.empty()) {
      STRATA_USER_CHECK(tok, im.no_tokenizer_hint());
      if (chat) {
        Document d;
        chat->render_prompt(Conversation{p.system, {}}, p.text, d);
        p.ids = d.tokens;
      } else {
        if (tok->bos_id() >= 0) p.ids.push_back(tok->bos_id());
        tok->encode(p.text, p.ids);
      }
    }
    for (int32_t id : p.ids)
      STRATA_USER_CHECK(id < cfg.vocab, "prompt " + std::to_string(i + 1) + ": token id " + std::to_string(id) +
                                            " is outside the model's vocabulary [0, " + std::to_string(cfg.vocab) +
                                            ")");
    STRATA_USER_CHECK((int)p.ids.size() < cfg.max_seq_len,
                      "prompt " + std::to_string(i + 1) + " has " + std::to_string(p.ids.size()) +
                          " tokens: no room to generate in the model's context of " +
                          std::to_string(cfg.max_seq_len) + " positions (max_position_embeddings); shorten it");
  }
  if (!a.ignore_eos) {
    if (chat) go.stop_ids = chat->stop_ids();
    else if (tok && tok->eos_id() >= 0) go.stop_ids = {tok->eos_id()};
    else go.stop_ids = {im.info().eos_token_id};
  }
  const std::string stop_text = chat ? chat->stop_text() : "";
  const bool stream = prompts.size() == 1 && !a.json;

  GenerationStats total;
  for (size_t first = 0; first < prompts.size(); first += a.batch) {
    const size_t n = std::min(prompts.size() - first, (size_t)a.batch);
    std::vector<std::vector<int32_t>> ids;
    size_t longest = 0;
    for (size_t i = 0; i < n; ++i) {
      ids.push_back(prompts[first + i].ids);
      longest = std::max(longest, ids.back().size());
    }
    const int capacity = (int)std::min<size_t>(cfg.max_seq_len, longest + go.max_new_tokens);
    LlamaDecoder dec(im.model(), (int)n, capacity);
    std::vector<std::optional<ReplyText>> replies(n);
    if (tok)
      for (auto& r : replies) r.emplace(*tok, go.stop_ids, stop_text);
    if (stream && tok) std::printf("%s", prompts[first].text.c_str());
    std::fflush(stdout);
    GenerationStats stats;
    const auto out = generate_tokens(dec, ids, go, &stats, [&](int row, int32_t id) {
      if (!replies[row]) {
        if (stream) std::printf(" %d", id);
        std::fflush(stdout);
        return false;
      }
      const std::string fresh = replies[row]->add(id);
      if (stream && !fresh.empty()) {
        std::fwrite(fresh.data(), 1, fresh.size(), stdout);
        std::fflush(stdout);
      }
      return replies[row]->stopped_by_text();
    });
    for (size_t i = 0; i < n; ++i) {
      const Prompt& p = prompts[first + i];
      if (a.json) {
        nlohmann::json j;
        j["prompt"] = p.text.empty() ? nlohmann::json(nullptr) : nlohmann::json(p.text);
        j["prompt_ids"] = p.ids;
        j["generated_ids"] = out[i].ids;
        j["text"] = replies[i] ? nlohmann::json(replies[i]->text()) : nlohmann::json(nullptr);
        j["stop"] = to_string(out[i].reason);
        j["prompt_tokens_per_second"] = stats.prompt_tokens_per_second();
        j["tokens_per_second"] = stats.new_tokens_per_second();
        std::printf("%s\n", j.dump().c_str());
      } else if (!stream) {
        std::printf("=== prompt %zu ===\n%s", first + i + 1, p.text.c_str());
        if (replies[i]) std::printf("%s\n", replies[i]->text().c_str());
        else
          for (int32_t id : out[i].ids) std::printf(" %d", id);
        std::printf("\n");
      }
    }
    if (stream) std::printf("\n");
    total.prompt_tokens += stats.prompt_tokens;
    total.new_tokens += stats.new_tokens;
    total.prompt_seconds += stats.prompt_seconds;
    total.new_seconds += stats.new_seconds;
  }
  std::fflush(stdout);
  std::fprintf(stderr, "%s | %s, %s, %s\n", speed_line(total).c_str(), im.backend().name().c_str(),
               to_string(im.model().precision()), im.placement().c_str());
  return 0;
}

}  // namespace strata
