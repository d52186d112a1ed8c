// The strata executable: argument parsing (CLI11) and dispatch to subcommands.
// Every StrataError becomes one "strata: error: ..." line and exit code 1; bad arguments exit with 2.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "engine/check.h"
#include "engine/cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"strata: fine-tune LLaMA-family models on one GPU with LISA and tiered memory"};
  app.set_version_flag("--version", std::string("strata ") + STRATA_VERSION);
  app.require_subcommand(0, 1);

  strata::DemoOptions demo;
  auto* demo_cmd = app.add_subcommand(
      "demo", "forward + backward of a seeded tiny LLaMA on generated tokens: loss, gradient norms, tokens/s, memory");
  demo_cmd->add_option("--backend", demo.backend, "compute backend: cpu, ref, cuda:N")->capture_default_str();
  demo_cmd->add_option("--batch", demo.batch, "sequences per step")->capture_default_str()->check(CLI::Range(1, 4096));
  demo_cmd->add_option("--seq-len", demo.seq_len, "tokens per sequence")->capture_default_str()->check(CLI::Range(2, 1 << 20));
  demo_cmd->add_option("--steps", demo.steps, "forward+backward passes to time")->capture_default_str()->check(CLI::Range(1, 1000000));
  demo_cmd->add_option("--seed", demo.seed, "seed for weights and data")->capture_default_str();
  demo_cmd->add_flag("--checkpointing", demo.checkpointing, "recompute block intermediates in backward");

  auto* backends_cmd = app.add_subcommand("backends", "list the compute backends of this build and whether they run here");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);  // prints help/version (rc 0) or the parse error
    return rc == 0 ? 0 : 2;
  }
  try {
    if (*demo_cmd) return strata::run_demo(demo);
    if (*backends_cmd) return strata::run_backends();
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
