// The strata executable: argument parsing (CLI11) and dispatch to subcommands.
// Every StrataError becomes one "strata: error: ..." line and exit code 1; bad arguments exit with 2.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "core/check.h"
#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"strata: fine-tune LLaMA-family models on one GPU with LISA and tiered memory"};
  app.set_version_flag("--version", std::string("strata ") + STRATA_VERSION);
  app.require_subcommand(0, 1);

  strata::DemoArgs demo;
  auto* demo_cmd = app.add_subcommand(
      "demo", "forward + backward of a LLaMA (seeded tiny preset, or --model DIR) on generated tokens: loss, grad norms, tokens/s, memory");
  demo_cmd->add_option("--backend", demo.backend, "compute backend: cpu, ref, cuda:N")->capture_default_str();
  demo_cmd->add_option("--batch", demo.batch, "sequences per step")->capture_default_str()->check(CLI::Range(1, 4096));
  demo_cmd->add_option("--seq-len", demo.seq_len, "tokens per sequence")->capture_default_str()->check(CLI::Range(2, 1 << 20));
  demo_cmd->add_option("--steps", demo.steps, "forward+backward passes to time")->capture_default_str()->check(CLI::Range(1, 1000000));
  demo_cmd->add_option("--seed", demo.seed, "seed for weights and data")->capture_default_str();
  demo_cmd->add_flag("--checkpointing", demo.checkpointing, "recompute block intermediates in backward");

  demo_cmd->add_option("--model", demo.model, "HF model folder to run instead of the seeded tiny preset");

  auto* backends_cmd = app.add_subcommand("backends", "list the compute backends of this build and whether they run here");
  auto* presets_cmd = app.add_subcommand("presets", "list the built-in model shapes (usable wherever a config.json is)");

  strata::InitModelArgs init;
  auto* init_cmd = app.add_subcommand("init-model", "write a seeded random model as an HF folder (config.json + safetensors)");
  init_cmd->add_option("--config", init.config, "preset name (see `strata presets`) or config.json path")->required();
  init_cmd->add_option("--seed", init.seed, "seed of the normal init (std = initializer_range)")->capture_default_str();
  init_cmd->add_option("--out", init.out, "output folder (must not exist unless --force)")->required();
  init_cmd->add_option("--dtype", init.dtype, "stored dtype: f32, bf16, f16")->capture_default_str();
  init_cmd->add_option("--max-shard-size", init.max_shard_size, "split into shards above this size, e.g. 5GB, 512MiB")
      ->capture_default_str();
  init_cmd->add_flag("--force", init.force, "replace an existing output folder (atomically)");

  strata::TrainArgs tr;
  auto* train_cmd = app.add_subcommand("train", "fine-tune with LISA (or full fine-tuning) as a TOML config says");
  train_cmd->add_option("config", tr.config, "run config (TOML), e.g. configs/tiny.toml");
  train_cmd->add_option("--resume", tr.resume, "continue the run in this folder from its newest checkpoint");
  train_cmd->add_option("--set", tr.overrides, "override a config key: section.key=value (repeatable)");
  train_cmd->add_flag("--profile", tr.profile, "profiling session: trace.json and report.html in the run folder");

  strata::PlanArgs pl;
  auto* plan_cmd = app.add_subcommand(
      "plan", "will the run fit? where every byte lives, bandwidth, a step-time bound, and what to change (no weights loaded)");
  plan_cmd->add_option("config", pl.config, "run config (TOML)")->required();
  plan_cmd->add_option("--set", pl.overrides, "override a config key: section.key=value (repeatable)");
  plan_cmd->add_option("--device-budget", pl.device_budget, "device memory budget, e.g. 48GiB, 80GB, 2.5e10");
  plan_cmd->add_option("--host-budget", pl.host_budget, "host memory budget");
  plan_cmd->add_option("--precision", pl.precision, "fp32 or bf16 (default: the config's train.precision)");
  plan_cmd->add_flag("--host-optimizer", pl.host_optimizer, "bf16: AdamW state and master weights on the host");
  plan_cmd->add_flag("--json", pl.json, "machine-readable output");
  plan_cmd->add_option("--device-tflops", pl.device_tflops, "achieved GEMM TFLOP/s (default: strata probe's figure)");
  plan_cmd->add_option("--h2d-gbps", pl.h2d_gbps, "host->device GB/s");
  plan_cmd->add_option("--disk-gbps", pl.disk_gbps, "disk-tier read GB/s");

  std::string probe_backend = "cpu", probe_dir = ".";
  auto* probe_cmd = app.add_subcommand("probe", "measure GEMM FLOP/s, host->device GB/s and disk-tier GB/s for `plan`");
  probe_cmd->add_option("--backend", probe_backend, "backend to measure")->capture_default_str();
  probe_cmd->add_option("--disk-dir", probe_dir, "folder for the disk-tier test file (a real file system)")
      ->capture_default_str();

  auto* report_cmd = app.add_subcommand("report", "regenerate RUN_DIR/report.html from a profiled run");
  std::string report_dir;
  report_cmd->add_option("run_dir", report_dir, "run folder")->required();

  strata::EvalArgs ev;
  auto* eval_cmd = app.add_subcommand("eval", "loss and perplexity of a model, run or checkpoint on a dataset");
  eval_cmd->add_option("model", ev.model, "HF model folder, run folder or checkpoint folder")->required();
  eval_cmd->add_option("--data", ev.data, "dataset file (text, .jsonl, LMFlow .json, .tok) or synthetic")->required();
  eval_cmd->add_option("--format", ev.format, "auto, tokens, text, jsonl, lmflow, alpaca")->capture_default_str();
  eval_cmd->add_option("--text-field", ev.text_field, "JSONL field with the text")->capture_default_str();
  eval_cmd->add_option("--seq-len", ev.seq_len, "tokens per window")->capture_default_str()->check(CLI::Range(2, 1 << 20));
  eval_cmd->add_option("--micro-batch", ev.micro_batch, "windows per forward pass")->capture_default_str()->check(CLI::Range(1, 1 << 16));
  eval_cmd->add_option("--batches", ev.batches, "at most this many micro-batches (0: all)")->capture_default_str();
  eval_cmd->add_option("--backend", ev.backend, "cpu, ref, cuda:N")->capture_default_str();
  eval_cmd->add_option("--tokenizer", ev.tokenizer, "byte, a tokenizer file or folder, or model (MODEL's own)")
      ->capture_default_str();
  eval_cmd->add_option("--chat-template", ev.chat_template, "llama2 or chatml (conversations, Alpaca)")
      ->capture_default_str();

  strata::TokenizeArgs tk;
  auto* tokenize_cmd = app.add_subcommand(
      "tokenize", "tokenize dataset files into one token file (.tok) for data.format = \"tokens\", on several threads");
  tokenize_cmd->add_option("inputs", tk.inputs, "dataset files: text, .jsonl, LMFlow or Alpaca .json")->required();
  tokenize_cmd->add_option("--out", tk.out, "token file to write (atomically)")->required();
  tokenize_cmd->add_option("--tokenizer", tk.tokenizer, "byte, a tokenizer.model / tokenizer.json, or a folder holding one")
      ->required();
  tokenize_cmd->add_option("--format", tk.format, "auto, text, jsonl, lmflow, alpaca")->capture_default_str();
  tokenize_cmd->add_option("--chat-template", tk.chat_template, "llama2 or chatml (LMFlow conversation, Alpaca)")
      ->capture_default_str();
  tokenize_cmd->add_option("--text-field", tk.text_field, "JSONL field with the text")->capture_default_str();
  tokenize_cmd->add_flag("--skip-bad-records", tk.skip_bad_records, "skip and count malformed records instead of stopping");
  tokenize_cmd->add_option("--threads", tk.threads, "tokenizing threads (0: one per hardware thread)")
      ->capture_default_str()->check(CLI::Range(0, 1024));

  strata::ExportArgs exp;
  auto* export_cmd = app.add_subcommand("export", "write a model as an HF folder that transformers loads unchanged");
  export_cmd->add_option("input", exp.input, "HF model folder, run folder (newest checkpoint) or checkpoint folder")->required();
  export_cmd->add_option("--out", exp.out, "output folder (must not exist unless --force)")->required();
  export_cmd->add_option("--dtype", exp.dtype, "stored dtype: f32, bf16, f16")->capture_default_str();
  export_cmd->add_option("--max-shard-size", exp.max_shard_size, "split into shards above this size")->capture_default_str();
  export_cmd->add_option("--non-finite", exp.non_finite, "NaN/Inf in the input weights: error, warn, ignore")
      ->capture_default_str();
  export_cmd->add_flag("--force", exp.force, "replace an existing output folder (atomically)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);  // prints help/version (rc 0) or the parse error
    return rc == 0 ? 0 : 2;
  }
  try {
    if (*demo_cmd) return strata::run_demo(demo);
    if (*backends_cmd) return strata::run_backends();
    if (*presets_cmd) return strata::run_presets();
    if (*init_cmd) return strata::run_init_model(init);
    if (*export_cmd) return strata::run_export(exp);
    if (*train_cmd) return strata::run_train(tr);
    if (*eval_cmd) return strata::run_eval(ev);
    if (*plan_cmd) return strata::run_plan(pl);
    if (*probe_cmd) return strata::run_probe(probe_backend, probe_dir);
    if (*report_cmd) return strata::run_report(report_dir);
    if (*tokenize_cmd) return strata::run_tokenize(tk);
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
