// `strata train` (fresh or --resume) and `strata eval`. SIGINT/SIGTERM during training stop at the next micro-batch
// boundary (the unfinished step is dropped), save a checkpoint and exit 0; a second signal kills at once.
#include <csignal>
#include <cstdio>
#include <filesystem>

#include "core/check.h"
#include "cli/commands.h"
#include "engine/mpi_world.h"
#include "engine/trainer.h"

namespace strata {

namespace {
// The one process-wide flag a signal handler may set (async-signal-safe); read by the training loop.
std::atomic<bool> g_stop_requested{false};

extern "C" void on_stop_signal(int sig) {
  g_stop_requested.store(true);
  std::signal(sig, SIG_DFL);  // a second Ctrl-C kills at once
}
}  // namespace

int run_train(const TrainArgs& o) {
  RunConfig cfg;
  TrainOptions t;
  std::vector<std::string> overrides = o.overrides;
  if (o.profile) overrides.push_back("output.profile=true");
  if (!o.resume.empty()) {
    STRATA_USER_CHECK(o.config.empty(), "give either a config file or --resume RUN_DIR, not both");
    const std::string path = (std::filesystem::path(o.resume) / "config.toml").string();
    STRATA_USER_CHECK(std::filesystem::exists(path), "--resume " + o.resume + ": no config.toml there (not a run folder)");
    cfg = RunConfig::load(path, overrides);
    cfg.output.dir = o.resume;
    t.resume_dir = o.resume;
  } else {
    STRATA_USER_CHECK(!o.config.empty(), "strata train needs a config file (e.g. configs/tiny.toml) or --resume RUN_DIR");
    cfg = RunConfig::load(o.config, overrides);
  }
  g_stop_requested.store(false);
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  t.stop = &g_stop_requested;
  // Under mpirun: one rank of a data-parallel run. An error on any rank ends every rank (MPI_Abort) after this one
  // printed it, so no rank waits for one that is gone.
  std::unique_ptr<MpiWorld> world;
  if (MpiWorld::launched_by_mpi()) world = std::make_unique<MpiWorld>();
  t.world = world.get();
  TrainResult r;
  try {
    r = train(cfg, t);
  } catch (const StrataError& e) {
    if (!world || world->size() == 1) throw;
    std::fprintf(stderr, "strata: error: rank %d of %d: %s\n", world->rank(), world->size(), e.what());
    std::fflush(stderr);
    world->abort(1);
  }
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  if (!world || world->rank() == 0)
    std::printf("%s at step %d/%d; resume with: %sstrata train --resume %s\n", r.interrupted ? "stopped" : "done",
                r.steps_done, cfg.train.steps, world && world->size() > 1 ? "mpirun -np N " : "",
                cfg.output.dir.c_str());
  return 0;
}

int run_eval(const EvalArgs& o) {
  EvalOptions e;
  e.model = o.model;
  e.data.train = o.data;
  e.data.format = parse_enum<DataFormat>(o.format, "--format");
  e.data.text_field = o.text_field;
  e.data.tokenizer = o.tokenizer;
  e.data.chat_template = parse_enum<ChatTemplateKind>(o.chat_template, "--chat-template");
  e.data.seq_len = o.seq_len;
  e.micro_batch = o.micro_batch;
  e.max_batches = o.batches;
  e.backend = o.backend;
  const EvalResult r = evaluate_model(e);
  std::printf("eval: %s on %s: loss %.4f | perplexity %.3f | %zu tokens in %zu batches\n",
              r.model_description.c_str(), o.data.c_str(), r.loss, r.perplexity, r.tokens, r.batches);
  return 0;
}

}  // namespace strata
