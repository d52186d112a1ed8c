// Subcommands of the strata CLI, one function per command; main.cpp only parses arguments and dispatches.
// Each returns the process exit code; each command's flags arrive in one <Command>Args struct.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace strata {

struct DemoArgs {
  std::string backend = "cpu";
  std::string model;  // HF model folder; empty: the seeded "tiny" preset
  int batch = 4;
  int seq_len = 64;
  int steps = 3;
  uint64_t seed = 1234;
  bool checkpointing = false;
};

struct InitModelArgs {
  std::string config;  // preset name or config.json path
  uint64_t seed = 0;
  std::string out;
  std::string dtype = "f32";
  std::string max_shard_size = "5GB";
  bool force = false;
};

struct ExportArgs {
  std::string input;  // HF model folder
  std::string out;
  std::string dtype = "f32";
  std::string max_shard_size = "5GB";
  std::string non_finite = "error";
  bool force = false;
};

struct TrainArgs {
  std::string config;                // TOML file (empty with --resume)
  std::string resume;                // run folder to continue
  std::vector<std::string> overrides;  // --set section.key=value
  bool profile = false;                // --profile: same as --set output.profile=true
};

struct EvalArgs {
  std::string model;
  std::string data;
  std::string format = "auto";
  std::string text_field = "text";
  int seq_len = 64;
  int micro_batch = 4;
  size_t batches = 0;
  std::string backend = "cpu";
  std::string tokenizer = "byte";       // byte | tokenizer file or folder | model (the evaluated HF folder's)
  std::string chat_template = "llama2";
};

// What `strata generate` and `strata chat` share: the model, how it is loaded, and how tokens are chosen.
struct GenerationArgs {
  std::string model;                 // HF folder, run folder or checkpoint
  std::string backend = "cpu";
  std::string tokenizer;             // empty: the model's own
  std::string precision = "auto";    // auto | fp32 | bf16
  std::string blocks = "device";     // device | host | disk: where the blocks live (streamed per pass)
  std::string disk_path;             // the disk tier's file (new); empty: a temporary one
  int prefetch = 2;
  int max_new_tokens = 256;
  double temperature = 0.0, top_p = 1.0;
  int top_k = 0;
  uint64_t seed = 0;
  std::string chat_template;         // generate: empty = none (plain text); chat: llama2 | chatml
  std::string system;
};

struct GenerateArgs {
  GenerationArgs gen;
  std::string prompt;                // --prompt TEXT
  bool has_prompt = false;
  std::string prompts_file;          // --prompts FILE.jsonl ({"prompt": ...} per line)
  std::string prompt_ids;            // --prompt-ids 1,2,3
  bool json = false;
  bool ignore_eos = false;
  int batch = 8;                     // prompts generated together
};

struct PlanArgs {
  std::string config;
  std::vector<std::string> overrides;
  std::string device_budget, host_budget;
  std::string precision;  // fp32 | bf16; empty: by backend
  bool json = false;
  double device_tflops = 0, h2d_gbps = 0, disk_gbps = 0;
  int ranks = 1;  // data-parallel ranks: the all-reduce bytes per step
};

// `strata tokenize`: dataset files -> one token file for data.format = "tokens".
struct TokenizeArgs {
  std::string tokenizer;                 // byte | tokenizer.model | tokenizer.json | a folder holding one
  std::string format = "auto";           // auto | text | jsonl | lmflow | alpaca
  std::string chat_template = "llama2";  // llama2 | chatml
  std::string text_field = "text";
  bool skip_bad_records = false;
  std::vector<std::string> inputs;
  std::string out;
  bool force = false;  // replace an existing --out (never one of the inputs)
  int threads = 0;     // 0: one per hardware thread
};

int run_demo(const DemoArgs& opts);
int run_tokenize(const TokenizeArgs& opts);
int run_plan(const PlanArgs& opts);
int run_probe(const std::string& backend, const std::string& disk_dir);
int run_train(const TrainArgs& opts);
int run_eval(const EvalArgs& opts);
int run_generate(const GenerateArgs& opts);
int run_chat(const GenerationArgs& opts);
// `strata report RUN_DIR`: (re)generates RUN_DIR/report.html from trace.json, metrics.jsonl and plan.json.
int run_report(const std::string& run_dir);
int run_backends();
int run_presets();
int run_init_model(const InitModelArgs& opts);
int run_export(const ExportArgs& opts);

}  // namespace strata
