// The strata executable: argument parsing (CLI11), one add_* function per command that declares its flags into its
// <Command>Args and returns how to run it. Every StrataError becomes one "strata: error: ..." line and exit code 1
// (a UserError's message alone; an internal check's with its "file.cpp:NNN: " location); any other exception is a
// bug: "strata: internal error: ...". Bad arguments exit with 2: every number is parsed strictly (the whole value,
// in range, no wrap-around, no nan or inf) and no value may be empty, each error naming the flag, the value and
// what is valid.
#include <CLI/CLI.hpp>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

#include "cli/commands.h"
#include "cli/openmp_wait_policy.h"
#include "core/check.h"

namespace {

using strata::DemoArgs, strata::GenerationArgs, strata::GenerateArgs, strata::InitModelArgs, strata::TrainArgs, strata::PlanArgs, strata::EvalArgs,
    strata::TokenizeArgs, strata::ExportArgs;

// A subcommand and what runs when the command line chose it.
struct Command {
  CLI::App* cmd;
  std::function<int()> run;
};

// Decimal text of a 128-bit integer (the ranges of whole_number span all of int64 and uint64).
std::string i128_str(__int128 x) {
  if (x == 0) return "0";
  const bool neg = x < 0;
  unsigned __int128 m = neg ? -(unsigned __int128)x : (unsigned __int128)x;
  std::string s;
  for (; m; m /= 10) s.insert(s.begin(), static_cast<char>('0' + (int)(m % 10)));
  return neg ? "-" + s : s;
}

// A value for an option with a number in it: the whole value must be a whole number in [lo, hi] ("+5", " 5", "5.0",
// "0x10", "1e3" are not; neither is "-1" for a count or 99999999999999999999 for a 64-bit seed: nothing wraps
// around). A valid value is rewritten in plain decimal, which CLI11's own conversion (base 0: "010" would be octal)
// then reads exactly. `what` names the range's meaning when it needs one (" (0: all)").
CLI::Validator whole_number(__int128 lo, __int128 hi, const std::string& what = "") {
  const std::string range = "a whole number from " + i128_str(lo) + " to " + i128_str(hi) + what;
  return CLI::Validator(
      [lo, hi, range](std::string& v) -> std::string {
        const char* b = v.data();
        const char* e = b + v.size();
        const bool neg = b != e && *b == '-';
        unsigned long long mag = 0;
        const auto [p, ec] = std::from_chars(b + (neg ? 1 : 0), e, mag);  // no sign, space or prefix accepted
        const __int128 x = neg ? -(__int128)mag : (__int128)mag;
        if (ec != std::errc() || p != e || x < lo || x > hi) return "'" + v + "' is not " + range;
        v = i128_str(x);
        return std::string();
      },
      "from " + i128_str(lo) + " to " + i128_str(hi));
}

// A positive, finite real number (GB/s, TFLOP/s): no nan, inf, hex or spaces; 0 and negatives are refused.
CLI::Validator positive_number() {
  return CLI::Validator(
      [](std::string& v) -> std::string {
        const std::string bad = "'" + v + "' is not a finite number greater than 0";
        if (v.empty() || v.find_first_not_of("0123456789.eE+-") != std::string::npos) return bad;
        char* end = nullptr;
        const double x = std::strtod(v.c_str(), &end);
        if (end != v.c_str() + v.size() || !std::isfinite(x) || !(x > 0)) return bad;
        char buf[40];
        std::snprintf(buf, sizeof buf, "%.17g", x);
        v = buf;
        return std::string();
      },
      "> 0");
}

// A finite real number >= 0 (a sampling temperature, top-p): no nan, inf, hex or spaces.
CLI::Validator non_negative_number() {
  return CLI::Validator(
      [](std::string& v) -> std::string {
        const std::string bad = "'" + v + "' is not a finite number >= 0";
        if (v.empty() || v.find_first_not_of("0123456789.eE+-") != std::string::npos) return bad;
        char* end = nullptr;
        const double x = std::strtod(v.c_str(), &end);
        if (end != v.c_str() + v.size() || !std::isfinite(x) || x < 0) return bad;
        return std::string();
      },
      ">= 0");
}

// A string option that must not be empty ("" would otherwise mean "not given", or fail later without a reason).
CLI::Validator non_empty(const std::string& hint) {
  return CLI::Validator(
      [hint](std::string& v) -> std::string { return v.empty() ? "the value is empty; " + hint : std::string(); }, "");
}

constexpr __int128 kU64Max = std::numeric_limits<uint64_t>::max();

Command add_demo(CLI::App& app) {
  auto a = std::make_shared<DemoArgs>();
  auto* c = app.add_subcommand("demo", "forward + backward of a LLaMA (seeded tiny preset, or --model DIR) on generated "
                                       "tokens: loss, grad norms, tokens/s, memory");
  c->add_option("--backend", a->backend, "compute backend: cpu, ref, cuda:N")
      ->capture_default_str()
      ->transform(non_empty("give cpu, ref or cuda:N"));
  c->add_option("--batch", a->batch, "sequences per step")->capture_default_str()->transform(whole_number(1, 4096));
  c->add_option("--seq-len", a->seq_len, "tokens per sequence")
      ->capture_default_str()
      ->transform(whole_number(2, 1 << 20));
  c->add_option("--steps", a->steps, "forward+backward passes to time")
      ->capture_default_str()
      ->transform(whole_number(1, 1000000));
  c->add_option("--seed", a->seed, "seed for weights and data")
      ->capture_default_str()
      ->transform(whole_number(0, kU64Max));
  c->add_flag("--checkpointing", a->checkpointing, "recompute block intermediates in backward");
  c->add_option("--model", a->model, "HF model folder to run instead of the seeded tiny preset")
      ->transform(non_empty("give an HF model folder, or leave --model out for the tiny preset"));
  return {c, [a] { return strata::run_demo(*a); }};
}

Command add_init_model(CLI::App& app) {
  auto a = std::make_shared<InitModelArgs>();
  auto* c = app.add_subcommand("init-model", "write a seeded random model as an HF folder (config.json + safetensors)");
  c->add_option("--config", a->config, "preset name (see `strata presets`) or config.json path")
      ->required()
      ->transform(non_empty("give a preset name (see `strata presets`) or a config.json path"));
  c->add_option("--seed", a->seed, "seed of the normal init (std = initializer_range)")
      ->capture_default_str()
      ->transform(whole_number(0, kU64Max));
  c->add_option("--out", a->out, "output folder (must not exist unless --force)")
      ->required()
      ->transform(non_empty("give the folder to write, e.g. --out runs/model-hf"));
  c->add_option("--dtype", a->dtype, "stored dtype: f32, bf16, f16")->capture_default_str();
  c->add_option("--max-shard-size", a->max_shard_size, "split into shards above this size, e.g. 5GB, 512MiB")
      ->capture_default_str()
      ->transform(non_empty("give a size, e.g. 5GB or 512MiB"));
  c->add_flag("--force", a->force,
              "replace an existing model folder (one with config.json) or empty folder, atomically");
  return {c, [a] { return strata::run_init_model(*a); }};
}

Command add_train(CLI::App& app) {
  auto a = std::make_shared<TrainArgs>();
  auto* c = app.add_subcommand("train", "fine-tune with LISA (or full fine-tuning) as a TOML config says");
  c->add_option("config", a->config, "run config (TOML), e.g. configs/tiny.toml")
      ->transform(non_empty("give a run config (TOML), e.g. configs/tiny.toml"));
  c->add_option("--resume", a->resume, "continue the run in this folder from its newest checkpoint")
      ->transform(non_empty("give the run folder to continue (its output.dir)"));
  c->add_option("--set", a->overrides, "override a config key: section.key=value (repeatable)");
  c->add_flag("--profile", a->profile, "profiling session: trace.json and report.html in the run folder");
  return {c, [a] { return strata::run_train(*a); }};
}

Command add_plan(CLI::App& app) {
  auto a = std::make_shared<PlanArgs>();
  auto* c = app.add_subcommand("plan", "will the run fit? where every byte lives, bandwidth, a step-time bound, and "
                                       "what to change (no weights loaded)");
  c->add_option("config", a->config, "run config (TOML)")
      ->required()
      ->transform(non_empty("give a run config (TOML), e.g. configs/tiny.toml"));
  c->add_option("--set", a->overrides, "override a config key: section.key=value (repeatable)");
  c->add_option("--device-budget", a->device_budget, "device memory budget, e.g. 48GiB, 80GB, 2.5e10")
      ->transform(non_empty("give a size, e.g. 48GiB, or leave the flag out"));
  c->add_option("--host-budget", a->host_budget, "host memory budget")
      ->transform(non_empty("give a size, e.g. 256GiB, or leave the flag out"));
  c->add_option("--precision", a->precision, "fp32 or bf16 (default: the config's train.precision)")
      ->transform(non_empty("give fp32 or bf16, or leave the flag out"));
  c->add_flag("--json", a->json, "machine-readable output");
  c->add_option("--device-tflops", a->device_tflops, "achieved GEMM TFLOP/s (default: strata probe's figure)")
      ->transform(positive_number());
  c->add_option("--h2d-gbps", a->h2d_gbps, "host->device GB/s (default: strata probe's figure)")
      ->transform(positive_number());
  c->add_option("--disk-gbps", a->disk_gbps, "disk-tier read GB/s (default: strata probe's figure)")
      ->transform(positive_number());
  c->add_option("--ranks", a->ranks, "data-parallel ranks (mpirun -np N): memory per rank and all-reduce bytes per step")
      ->capture_default_str()
      ->transform(whole_number(1, 1 << 20));
  return {c, [a] { return strata::run_plan(*a); }};
}

Command add_probe(CLI::App& app) {
  auto a = std::make_shared<std::pair<std::string, std::string>>("cpu", ".");  // backend, disk folder
  auto* c = app.add_subcommand("probe", "measure GEMM FLOP/s, host->device GB/s and disk-tier GB/s for `plan`");
  c->add_option("--backend", a->first, "backend to measure")
      ->capture_default_str()
      ->transform(non_empty("give cpu, ref or cuda:N"));
  c->add_option("--disk-dir", a->second, "folder for the disk-tier test file (a real file system)")
      ->capture_default_str()
      ->transform(non_empty("give a folder on the disk to measure, e.g. --disk-dir ."));
  return {c, [a] { return strata::run_probe(a->first, a->second); }};
}

Command add_report(CLI::App& app) {
  auto run_dir = std::make_shared<std::string>();
  auto* c = app.add_subcommand("report", "regenerate RUN_DIR/report.html from a profiled run");
  c->add_option("run_dir", *run_dir, "run folder")->required()->transform(non_empty("give a run folder (output.dir)"));
  return {c, [run_dir] { return strata::run_report(*run_dir); }};
}

Command add_eval(CLI::App& app) {
  auto a = std::make_shared<EvalArgs>();
  auto* c = app.add_subcommand("eval", "loss and perplexity of a model, run or checkpoint on a dataset");
  c->add_option("model", a->model, "HF model folder, run folder or checkpoint folder")
      ->required()
      ->transform(non_empty("give an HF model folder, a run folder or a checkpoint folder"));
  c->add_option("--data", a->data, "dataset file (text, .jsonl, LMFlow .json, .tok) or synthetic")
      ->required()
      ->transform(non_empty("give a dataset file or synthetic"));
  c->add_option("--format", a->format, "auto, tokens, text, jsonl, lmflow, alpaca, json")->capture_default_str();
  c->add_option("--text-field", a->text_field, "JSONL field with the text")
      ->capture_default_str()
      ->transform(non_empty("give the JSONL field that holds the text"));
  c->add_option("--seq-len", a->seq_len, "tokens per window")
      ->capture_default_str()
      ->transform(whole_number(2, 1 << 20));
  c->add_option("--micro-batch", a->micro_batch, "windows per forward pass")
      ->capture_default_str()
      ->transform(whole_number(1, 1 << 16));
  c->add_option("--batches", a->batches, "at most this many micro-batches; 0: all of the dataset")
      ->capture_default_str()
      ->transform(whole_number(0, 1000000, " (0: all of the dataset)"));
  c->add_option("--backend", a->backend, "cpu, ref, cuda:N")
      ->capture_default_str()
      ->transform(non_empty("give cpu, ref or cuda:N"));
  c->add_option("--tokenizer", a->tokenizer, "byte, a tokenizer file or folder, or model (MODEL's own)")
      ->capture_default_str()
      ->transform(non_empty("give byte, a tokenizer file or folder, or model"));
  c->add_option("--chat-template", a->chat_template, "llama2 or chatml (conversations, Alpaca)")
      ->capture_default_str();
  return {c, [a] { return strata::run_eval(*a); }};
}

// The options `generate` and `chat` share: model loading and token choice.
void add_generation_options(CLI::App* c, GenerationArgs& a, const std::string& template_help) {
  c->add_option("model", a.model, "HF model folder, run folder (newest checkpoint) or checkpoint folder")
      ->required()
      ->transform(non_empty("give an HF model folder, a run folder or a checkpoint folder"));
  c->add_option("--max-new-tokens", a.max_new_tokens, "tokens to generate at most per reply")
      ->capture_default_str()
      ->transform(whole_number(1, 1 << 20));
  c->add_option("--temperature", a.temperature, "0: greedy; > 0: sample from softmax(logits / T)")
      ->capture_default_str()
      ->transform(non_negative_number());
  c->add_option("--top-k", a.top_k, "sample among the k most likely tokens (0: all)")
      ->capture_default_str()
      ->transform(whole_number(0, 1 << 24));
  c->add_option("--top-p", a.top_p, "sample among the most likely tokens up to this probability mass, in (0, 1]")
      ->capture_default_str()
      ->transform(non_negative_number());
  c->add_option("--seed", a.seed, "seed of the sampling draws")
      ->capture_default_str()
      ->transform(whole_number(0, kU64Max));
  c->add_option("--chat-template", a.chat_template, template_help);
  c->add_option("--system", a.system, "system prompt (with a chat template)");
  c->add_option("--backend", a.backend, "cpu, ref, cuda:N")
      ->capture_default_str()
      ->transform(non_empty("give cpu, ref or cuda:N"));
  c->add_option("--tokenizer", a.tokenizer, "byte, a tokenizer file or a folder holding one (default: the model's)")
      ->transform(non_empty("give byte, a tokenizer.model / tokenizer.json, or a folder holding one"));
  c->add_option("--precision", a.precision, "auto (the run's train.precision; fp32 for an HF folder), fp32, bf16")
      ->capture_default_str();
  c->add_option("--blocks", a.blocks, "where the transformer blocks live: device, host or disk (streamed per step)")
      ->capture_default_str();
  c->add_option("--disk-path", a.disk_path, "the disk tier's file (created and removed; default: a temporary file)")
      ->transform(non_empty("give a new file path for the disk tier"));
  c->add_option("--prefetch", a.prefetch, "streamed blocks read ahead")
      ->capture_default_str()
      ->transform(whole_number(1, 64));
}

Command add_generate(CLI::App& app) {
  auto a = std::make_shared<GenerateArgs>();
  a->gen.max_new_tokens = 128;
  auto* c = app.add_subcommand("generate", "generate text from a model, run or checkpoint (KV cache, batched prompts)");
  add_generation_options(c, a->gen, "none (plain text, the default), llama2 or chatml");
  c->add_option("--prompt", a->prompt, "the prompt text");
  c->add_option("--prompts", a->prompts_file, "a JSONL file, one {\"prompt\": ...} per line, generated in batches")
      ->transform(non_empty("give a .jsonl file of prompts"));
  c->add_option("--prompt-ids", a->prompt_ids, "the prompt as token ids, e.g. 1,306,4966 (no tokenizer needed)")
      ->transform(non_empty("give comma-separated token ids, e.g. 1,306,4966"));
  c->add_option("--batch", a->batch, "prompts generated together (--prompts)")
      ->capture_default_str()
      ->transform(whole_number(1, 4096));
  c->add_flag("--json", a->json, "print one JSON object per prompt (ids, text, tokens/s) instead of streaming text");
  c->add_flag("--ignore-eos", a->ignore_eos, "do not stop at the end-of-sequence token");
  return {c, [a, c] {
            a->has_prompt = c->count("--prompt") > 0;
            return strata::run_generate(*a);
          }};
}

Command add_chat(CLI::App& app) {
  auto a = std::make_shared<GenerationArgs>();
  a->chat_template = "llama2";
  auto* c = app.add_subcommand("chat", "talk to a model in the terminal (chat template, history; /reset, /exit)");
  add_generation_options(c, *a, "llama2 (default) or chatml");
  return {c, [a] { return strata::run_chat(*a); }};
}

Command add_tokenize(CLI::App& app) {
  auto a = std::make_shared<TokenizeArgs>();
  auto* c = app.add_subcommand("tokenize", "tokenize dataset files into one token file (.tok) for data.format = "
                                           "\"tokens\", on several threads");
  c->add_option("inputs", a->inputs, "dataset files: text, .jsonl, LMFlow or Alpaca .json")
      ->required()
      ->transform(non_empty("give dataset file paths"));
  c->add_option("--out", a->out, "token file to write (atomically)")
      ->required()
      ->transform(non_empty("give the token file to write, e.g. --out data.tok"));
  c->add_option("--tokenizer", a->tokenizer, "byte, a tokenizer.model / tokenizer.json, or a folder holding one")
      ->required()
      ->transform(non_empty("give byte, a tokenizer.model / tokenizer.json, or a folder holding one"));
  c->add_option("--format", a->format, "auto, text, jsonl, lmflow, alpaca, json")->capture_default_str();
  c->add_option("--chat-template", a->chat_template, "llama2 or chatml (LMFlow conversation, Alpaca)")
      ->capture_default_str();
  c->add_option("--text-field", a->text_field, "JSONL field with the text")
      ->capture_default_str()
      ->transform(non_empty("give the JSONL field that holds the text"));
  c->add_flag("--skip-bad-records", a->skip_bad_records, "skip and count malformed records instead of stopping");
  c->add_flag("--force", a->force, "replace an existing --out file (atomically; never one of the inputs)");
  c->add_option("--threads", a->threads, "tokenizing threads (0: one per hardware thread)")
      ->capture_default_str()
      ->transform(whole_number(0, 1024, " (0: one per hardware thread)"));
  return {c, [a] { return strata::run_tokenize(*a); }};
}

Command add_export(CLI::App& app) {
  auto a = std::make_shared<ExportArgs>();
  auto* c = app.add_subcommand("export", "write a model as an HF folder that transformers loads unchanged");
  c->add_option("input", a->input, "HF model folder, run folder (newest checkpoint) or checkpoint folder")
      ->required()
      ->transform(non_empty("give an HF model folder, a run folder or a checkpoint folder"));
  c->add_option("--out", a->out, "output folder (must not exist unless --force)")
      ->required()
      ->transform(non_empty("give the folder to write, e.g. --out runs/model-hf"));
  c->add_option("--dtype", a->dtype, "stored dtype: f32, bf16, f16")->capture_default_str();
  c->add_option("--max-shard-size", a->max_shard_size, "split into shards above this size")
      ->capture_default_str()
      ->transform(non_empty("give a size, e.g. 5GB or 512MiB"));
  c->add_option("--non-finite", a->non_finite, "NaN/Inf in the input weights: error, warn, ignore")
      ->capture_default_str();
  c->add_flag("--force", a->force,
              "replace an existing model folder (one with config.json) or empty folder, atomically");
  return {c, [a] { return strata::run_export(*a); }};
}

}  // namespace

int main(int argc, char** argv) {
  strata::adopt_openmp_wait_policy(argv);  // first: it may re-execute the program
  CLI::App app{"strata: fine-tune LLaMA-family models on one GPU with LISA and tiered memory"};
  app.set_version_flag("--version", std::string("strata ") + STRATA_VERSION);
  app.require_subcommand(0, 1);
  const std::vector<Command> commands = {
      add_demo(app),
      {app.add_subcommand("backends", "list the compute backends of this build and whether they run here"),
       [] { return strata::run_backends(); }},
      {app.add_subcommand("presets", "list the built-in model shapes (usable wherever a config.json is)"),
       [] { return strata::run_presets(); }},
      add_init_model(app),
      add_train(app),
      add_plan(app),
      add_probe(app),
      add_report(app),
      add_eval(app),
      add_generate(app),
      add_chat(app),
      add_tokenize(app),
      add_export(app),
  };
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);  // prints help/version (rc 0) or the parse error
    return rc == 0 ? 0 : 2;
  }
  try {
    for (const Command& c : commands)
      if (*c.cmd) return c.run();
    std::fputs(app.help().c_str(), stdout);
    return 0;
  } catch (const strata::StrataError& e) {
    std::fprintf(stderr, "strata: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "strata: internal error: %s\n", e.what());
    return 1;
  }
}
