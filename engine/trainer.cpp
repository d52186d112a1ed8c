// The training loop behind `strata train`. One TrainingRun object owns everything a run needs; its step() is:
// LISA re-sample -> micro-batches (forward, backward) -> global grad norm -> skip or clip -> AdamW -> metrics.
#include "engine/trainer.h"

#include <omp.h>
#include <xxhash.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstring>
#include <cmath>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "backend/backend_registry.h"
#include "core/atomic_file.h"
#include "core/folder_lock.h"
#include "core/process_memory.h"
#include "engine/active_set.h"
#include "engine/batch_log.h"
#include "engine/base_weights.h"
#include "core/check.h"
#include "engine/checkpoint.h"
#include "engine/disk_space.h"
#include "data/training_data.h"
#include "engine/metrics_log.h"
#include "engine/gradient_reducer.h"
#include "engine/mpi_world.h"
#include "optim/shard_owners.h"
#include "engine/step_metrics.h"
#include "engine/training_samples.h"
#include "engine/trained_weights.h"
#include "plan/planner.h"
#include "memory/profiler.h"
#include "report/html_report.h"
#include "core/byte_size.h"
#include "formats/hf_export.h"
#include "model/llama_model.h"
#include "offload/block_placement.h"
#include "optim/adamw_optimizer.h"
#include "optim/lisa_sampler.h"
#include "optim/lr_schedule.h"

namespace strata {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// XXH3 of the config with the keys a resume may change (steps, logging, checkpoint cadence) neutralised.
uint64_t resume_config_hash(RunConfig c) {
  c.train.steps = 1;
  c.train.warmup_steps = 0;
  c.output = OutputSection{};
  c.train.sample_every = 0;  // samples only read the weights: a resume may change them
  c.train.sample_prompts.clear();
  c.train.sample_tokens = TrainSection{}.sample_tokens;
  c.distributed = DistributedSection{};  // how ranks talk changes no result
  return xxh3_of_text(c.to_toml());
}

std::string format_duration(double s) {
  const long t = (long)std::llround(std::max(0.0, s));
  char b[32];
  if (t >= 3600) std::snprintf(b, sizeof b, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
  else std::snprintf(b, sizeof b, "%ld:%02ld", t / 60, t % 60);
  return b;
}

std::string list_str(const std::vector<int>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(v[i]);
  }
  s += ']';
  return s;
}

// A rank's backend: cuda:N becomes cuda:N+<local rank> (each rank of a machine takes its own GPU); others as given.
std::string rank_backend(const std::string& name, const MpiWorld* world) {
  if (!world || world->size() == 1 || name.rfind("cuda:", 0) != 0) return name;
  int device = 0;
  const auto [end, ec] = std::from_chars(name.data() + 5, name.data() + name.size(), device);
  if (ec != std::errc() || end != name.data() + name.size()) return name;  // make_backend names what is wrong
  return "cuda:" + std::to_string(device + world->local_rank());
}

// Which sums a data-parallel step runs: the gradient reducer for the backend (NCCL on a GPU, MPI otherwise).
std::unique_ptr<GradientReducer> make_reducer(const MpiWorld& world, Backend& backend, const RunConfig& cfg) {
  if (cfg.memory.backend.rfind("cuda:", 0) == 0 && nccl_in_this_build()) {
    NcclGroup group{world.rank(), world.size(), [&world](void* id, size_t bytes) {
                      world.broadcast(id, bytes, 0, "the NCCL id");
                    }};
    return make_nccl_reducer(group, backend);
  }
  return make_mpi_reducer(world, backend, (size_t)cfg.distributed.bucket_mb << 20);
}

class TrainingRun {
 public:
  TrainingRun(const RunConfig& cfg, const TrainOptions& opts)
      : cfg_(cfg),
        opts_(opts),
        world_(opts.world),  // under mpirun, even as one rank (that runs the gradient sums too: the NCCL check)
        rank_(world_ ? world_->rank() : 0),
        ranks_(world_ ? world_->size() : 1),
        backend_(make_backend(rank_backend(cfg.memory.backend, opts.world))),
        prof_(cfg.output.profile),
        rss_base_(read_process_memory().rss),
        info_(base_model_info(cfg.model)),
        ckpts_(cfg.output.dir, cfg.output.keep_checkpoints) {
    if (rank_ > 0) opts_.log = nullptr;  // rank 0 speaks for the run
    if (world_) {
      world_->set_timeout(cfg.distributed.timeout_s);
      // Every rank must run the same config (the same [output] too: rank 0 writes where all of them read).
      const std::vector<uint64_t> hashes = world_->all_gather(xxh3_of_text(cfg.to_toml()), "the config check");
      for (int r = 1; r < ranks_ && rank_ == 0; ++r)  // rank 0 reports it; its abort ends the others
        STRATA_USER_CHECK(hashes[r] == hashes[0], "distributed: rank " + std::to_string(r) +
                                                      " was started with a different config than rank 0 (another "
                                                      "file or other --set options); start every rank alike");
    }
    if (prof_.enabled()) backend_->memory().set_observer([this](const MemorySnapshot& s) { prof_.sample_memory(s); });
    cfg_.validate_against_model(info_.config.n_layers, info_.config.max_seq_len);
    // The disk tier's scratch file is created, truncated and deleted by Strata: never a file it did not create (each
    // rank's own file, with a data-parallel run).
    std::error_code ec;
    STRATA_USER_CHECK(
        cfg.memory.disk_path.empty() || !fs::exists(tier_path(), ec),
        "memory.disk_path: " + tier_path() +
            " already exists; Strata creates the disk tier's file "
            "itself and never overwrites or deletes a file it did not create: choose a path that does not exist "
            "yet (or delete it if it is left over from an interrupted run)");
    if (!cfg.memory.device_budget.empty())
      backend_->memory().set_budget(MemoryKind::Device, parse_byte_size(cfg.memory.device_budget, "memory.device_budget"));
    if (!cfg.memory.host_budget.empty()) {
      const size_t b = parse_byte_size(cfg.memory.host_budget, "memory.host_budget");
      backend_->memory().set_budget(MemoryKind::HostPinned, b);
      backend_->memory().set_budget(MemoryKind::Host, b);
    }
    data_ = load_training_data(cfg.data, cfg.train.micro_batch, info_.config.vocab, cfg.model.path);
    train_loader_ = std::make_unique<DataLoader>(data_.train_set, data_.train_windows, cfg.train.micro_batch,
                                                 cfg.data.shuffle_seed, true);
    if (!data_.eval_windows.empty())
      eval_loader_ = std::make_unique<DataLoader>(data_.eval_set, data_.eval_windows, cfg.train.micro_batch,
                                                  cfg.data.shuffle_seed, false);
    ModelOptions mo;
    mo.checkpointing = cfg.memory.activation_checkpointing;
    mo.allocate_blocks = false;  // BlockPlacement puts each block on the device or in its tier
    mo.precision = cfg.train.precision;
    model_ = std::make_unique<LlamaModel>(*backend_, info_.config, mo);
    base_ = std::make_unique<BaseWeights>(cfg.model);
    for (BlobId blob : ids().all())
      if (!ids().is_block(blob)) base_->load_blob(model_->params(), blob, *backend_);
    AdamWHyper h;
    h.beta1 = (float)cfg.train.beta1;
    h.beta2 = (float)cfg.train.beta2;
    h.eps = (float)cfg.train.eps;
    h.weight_decay = (float)cfg.train.weight_decay;
    opt_ = std::make_unique<AdamWOptimizer>(*backend_, model_->layout(), model_->master_layout(), h,
                                            cfg.memory.optimizer);
    // The host optimizer copies each gradient off the device as soon as the last micro-batch's backward is done with
    // it, overlapped with the backward of the blocks below.
    if (world_) reducer_ = make_reducer(*world_, *backend_, cfg);
    model_->set_gradient_ready([this](BlobId blob) {
      if (!last_micro_batch_) return;
      if (reducer_) reduce(blob);
      // The MPI sums complete on the host only in wait(): the host optimizer's copies start after it (in step()).
      if (!reducer_ || reducer_->ordered_on_stream()) opt_->gradient_ready(blob, model_->grads());
    });
    if (cfg.train.sample_every > 0)
      samples_.emplace(*data_.tokenizer, cfg.train.sample_prompts, cfg.train.sample_tokens, cfg.data.seq_len);
    if (lisa()) sampler_.emplace(info_.config.n_layers, cfg.lisa.layers, cfg.lisa.interval, cfg.train.seed);
    if (world_ && cfg.distributed.shard_optimizer) {
      owners_.emplace(ranks_);
      update_owners(blocks_for(0));
    }
    sched_.kind = cfg.train.lr_schedule;
    sched_.lr = cfg.train.lr;
    sched_.warmup_steps = cfg.train.warmup_steps;
    sched_.total_steps = cfg.train.steps;
    sched_.min_lr_ratio = cfg.train.min_lr_ratio;
    config_hash_ = resume_config_hash(cfg);
    PlanOptions plan_opts;
    plan_opts.hw = load_hardware();
    plan_opts.ranks = ranks_;  // a sharded optimizer holds only this rank's share
    plan_ = make_plan(cfg, info_.config, plan_opts);
    if (!plan_.fits) {
      std::string msg = "the run does not fit its memory budgets (" + plan_.verdict + ")";
      if (!plan_.suggestions.empty()) msg += "; changes that would help: ";
      for (size_t i = 0; i < plan_.suggestions.size(); ++i) msg += (i ? "; " : "") + plan_.suggestions[i];
      msg += " (see `strata plan`)";
      STRATA_USER_FAIL(msg);
    }
    setup_trainability();
    model_->reserve_activations(cfg.train.micro_batch, cfg.data.seq_len);
    backend_->reserve_op_scratch(plan_.op_scratch_bytes);  // before placement sizes the room that is left
  }

  // Puts every block on the device or in its tier (the disk tier file lives in the run folder by default, so this
  // runs once that folder exists). Throws when the budgets cannot work.
  void place(bool resuming) {
    const RunConfig& cfg = cfg_;
    if (rank_ == 0) write_file_atomic((fs::path(cfg.output.dir) / "plan.json").string(), plan_.to_json());
    PlacementOptions po;
    po.frozen_tier = cfg.memory.frozen_tier;
    po.disk_path = tier_path();
    po.prefetch = cfg.memory.prefetch;
    po.verify = cfg.memory.verify;
    po.io = cfg.memory.io;
    check_free_disk(plan_, cfg.output.dir, po.disk_path, resuming);  // the tier file and the kept checkpoints
    po.trained_blocks = lisa() ? cfg.lisa.layers : info_.config.n_layers;
    po.trained_bytes = trained_block_bytes(model_->layout().block.bytes, model_->master_layout().block.bytes,
                                           cfg.train.precision == Precision::BF16,
                                           cfg.memory.optimizer == OptimizerPlacement::Host,
                                           !backend_->caps().device_is_host);
    po.warn = [this](const std::string& m) { log("strata: warning: %s\n", m.c_str()); };
    po.progress = [this](const std::string& m) { log("%s\n", m.c_str()); };
    placement_ = std::make_unique<BlockPlacement>(*backend_, *model_, *base_, po);
    active_ = std::make_unique<ActiveSet>(*model_, *opt_, *placement_, cfg.lisa.optimizer_state);
    if (owners_) active_->set_state_filter([this](BlobId b) { return owns(b); });
    if (prof_.enabled()) {
      model_->set_profiler(&prof_);
      placement_->set_profiler(&prof_);
    }
  }

  TrainResult run(const std::string& resume_from) {
    TrainResult r;
    if (!resume_from.empty() && !restore(resume_from))
      log("%s has no checkpoint yet (the run stopped before its first one): starting it again at step 0\n",
          resume_from.c_str());
    r.first_step = step_;
    if (rank_ == 0) metrics_ = std::make_unique<MetricsLog>(cfg_.output.dir, resume_from.empty() ? -1 : step_);
    if (cfg_.output.save_batches && rank_ == 0)  // rank 0 reads every micro-batch of a step: it logs them all
      batches_ = std::make_unique<BatchLog>(cfg_.output.dir, cfg_.train.micro_batch, cfg_.data.seq_len,
                                            cfg_.train.grad_accum * ranks_, resume_from.empty() ? -1 : step_);
    if (world_)
      log("data parallel: %d ranks (%s gradient sums), %d micro-batches of %d per step\n", ranks_, reducer_->name(),
          cfg_.train.grad_accum * ranks_, cfg_.train.micro_batch);
    log("strata train: %s | %s | %s\n", info_.config.describe().c_str(), data_.describe().c_str(),
        lisa() ? ("LISA " + std::to_string(cfg_.lisa.layers) + " of " + std::to_string(info_.config.n_layers) +
                  " blocks every " + std::to_string(cfg_.lisa.interval) + " steps")
                     .c_str()
               : "full fine-tuning");
    log("placement: %s\n", placement_->describe().c_str());
    if (step_ > 0) log("resumed at step %d from %s\n", step_, resume_from.c_str());
    const auto t_start = Clock::now();
    const int start = step_;
    io_prev_ = placement_->stats();  // per-step I/O figures exclude loading the base weights into the tiers
    while (step_ < cfg_.train.steps) {
      // Ranks stop together, at a step boundary: every rank's stop request is gathered by the step handshake
      // (which also names a rank that hangs or died).
      const bool want_stop = stop_requested() || (opts_.stop_at_step > 0 && step_ >= opts_.stop_at_step);
      if (world_ ? world_->agree_to_stop(step_, want_stop) : want_stop) {
        r.interrupted = true;
        break;
      }
      const std::optional<double> stepped = step(r);
      if (!stepped) {  // stopped between micro-batches: the step was dropped, its batches will be read again
        r.interrupted = true;
        break;
      }
      const double loss = *stepped;
      r.losses.push_back(loss);
      if (rank_ == 0 && cfg_.train.eval_every > 0 && step_ % cfg_.train.eval_every == 0) evaluate();
      if (rank_ == 0 && samples_ && step_ % cfg_.train.sample_every == 0) sample();
      const bool last = step_ == cfg_.train.steps;
      if (!last && cfg_.output.checkpoint_every > 0 && step_ % cfg_.output.checkpoint_every == 0)
        r.last_checkpoint = save();
      if (step_ % cfg_.output.log_every == 0 || last || step_ == start + 1) {
        const double elapsed = std::chrono::duration<double>(Clock::now() - t_start).count();
        const double eta = elapsed / (step_ - start) * (cfg_.train.steps - step_);
        const MemoryTracker& mem = backend_->memory();
        log("step %d/%d | loss %.4f | lr %.2e | %.0f tok/s | active %s | ETA %s | device %s | host %s | rss %s\n",
            step_, cfg_.train.steps, loss, last_lr_, last_tokens_per_s_, list_str(active_->blocks()).c_str(),
            format_duration(eta).c_str(), format_bytes(mem.current(MemoryKind::Device)).c_str(),
            format_bytes(mem.current(MemoryKind::HostPinned) + mem.current(MemoryKind::Host)).c_str(),
            format_bytes(read_process_memory().rss).c_str());
      }
    }
    if (r.interrupted) log("interrupted: saving a checkpoint at step %d\n", step_);
    if (step_ > start || r.interrupted || r.last_checkpoint.empty()) r.last_checkpoint = save();
    log("checkpoint: %s\n", r.last_checkpoint.c_str());
    if (prof_.enabled() && rank_ == 0) {
      backend_->memory().set_observer({});
      prof_.write_trace((fs::path(cfg_.output.dir) / "trace.json").string());
      write_html_report(cfg_.output.dir);
      log("profile: %s/trace.json (ui.perfetto.dev), %s/report.html\n", cfg_.output.dir.c_str(),
          cfg_.output.dir.c_str());
    }
    r.steps_done = step_;
    return r;
  }

 private:
  bool lisa() const { return cfg_.train.mode == TrainMode::Lisa; }
  // The disk tier's file: memory.disk_path, or offload.bin in the run folder; rank r > 0 of a data-parallel run
  // streams from its own, with ".rank<r>" appended.
  std::string tier_path() const {
    std::string p = cfg_.memory.disk_path.empty() ? (fs::path(cfg_.output.dir) / "offload.bin").string()
                                                  : cfg_.memory.disk_path;
    return rank_ > 0 ? p + ".rank" + std::to_string(rank_) : p;
  }
  bool stop_requested() const { return opts_.stop && opts_.stop->load(); }
  const BlobIds& ids() const { return model_->ids(); }

  template <class... A>
  void log(const char* fmt, A... a) {
    if (opts_.log) {
      std::fprintf(opts_.log, fmt, a...);
      std::fflush(opts_.log);
    }
  }

  // Embedding, head and final norm by non_block_training (the planner's rule too); blocks through active_.
  void setup_trainability() {
    model_->set_all_trainable(false);
    const NonBlockTraining trains = non_block_training(cfg_, info_.config.tie_embeddings);
    model_->set_embedding_trainable(trains.embedding);
    if (!info_.config.tie_embeddings) model_->set_head_trainable(trains.head);
    model_->set_final_norm_trainable(trains.final_norm);
    for (BlobId blob : {ids().embedding(), ids().head(), ids().final_norm()})
      if (model_->grads().has(blob) && owns(blob)) opt_->activate(blob, model_->params());
  }

  // ---- the sharded optimizer (distributed.shard_optimizer) ---------------------------------------------------

  bool owns(BlobId blob) const { return !owners_ || owners_->owner(blob) == rank_; }

  // The trained set is now these blocks (plus the non-block tensors that train): owners follow (ShardOwners).
  void update_owners(const std::vector<int>& blocks) {
    const NonBlockTraining trains = non_block_training(cfg_, info_.config.tie_embeddings);
    std::vector<std::pair<BlobId, size_t>> trained;
    auto add = [&](BlobId b) { trained.push_back({b, opt_->state_bytes(b)}); };
    if (trains.embedding) add(ids().embedding());
    if (trains.head) add(ids().head());
    if (trains.final_norm) add(ids().final_norm());
    for (int l : blocks) add(ids().block(l));
    owners_->update(trained);
  }

  // Resume: the owners as the run had them before `step` (the same sequence of trained sets, replayed).
  void replay_owners(int step) {
    const int every = sampler_ ? cfg_.lisa.interval : std::max(step, 1);
    for (int k = 0; k < step; k += every) update_owners(blocks_for(k));
  }

  // The new weights of every trained blob, from its owner to every rank.
  void broadcast_weights() {
    for (BlobId blob : ids().all())
      if (model_->grads().has(blob))
        reducer_->broadcast(model_->params().blob(blob), model_->params().blob_bytes(blob), owners_->owner(blob));
    reducer_->wait();
  }

  static constexpr int kStateRequestTag = 7201, kStateDataTag = 7202;
  static constexpr const char* kStateKinds[3] = {"m.", "v.", "master."};

  // Rank 0's sources for the optimizer file of a checkpoint: its own state, and the other owners' fetched from them
  // in pieces as the writer reaches them (bounded memory on every rank).
  std::vector<TensorSource> gathered_state(const std::vector<BlobId>& trained) {
    std::vector<TensorSource> local = opt_->state_tensors(), out;
    for (BlobId blob : trained) {
      const int o = owners_->owner(blob);
      for (int kind = 0; kind < 3; ++kind) {
        const std::string name = kStateKinds[kind] + to_string(blob);
        if (o == 0) {
          for (TensorSource& t : local)
            if (t.name == name) out.push_back(t);
          continue;
        }
        if (kind == 2 && !opt_->has_master(blob)) continue;
        TensorSource t{name, DType::F32, {(int64_t)(opt_->state_bytes(blob) / sizeof(float))}, nullptr};
        t.fill_range = [this, o, blob, kind](void* dst, size_t offset, size_t n) {
          const int64_t req[4] = {blob.value, kind, (int64_t)offset, (int64_t)n};
          world_->send(req, sizeof req, o, kStateRequestTag, "the checkpoint's optimizer state");
          world_->recv(dst, n, o, kStateDataTag, "the checkpoint's optimizer state", 10);
        };
        out.push_back(std::move(t));
      }
    }
    return out;
  }

  // Ranks other than 0 while rank 0 writes a checkpoint: answer its requests for pieces of this rank's state.
  void serve_state() {
    const std::vector<TensorSource> local = opt_->state_tensors();
    std::vector<char> buf;
    for (;;) {
      int64_t req[4];
      world_->recv(req, sizeof req, 0, kStateRequestTag, "rank 0's checkpoint", 10);
      if (req[0] < 0) return;
      const std::string name = kStateKinds[req[1]] + to_string(BlobId((int)req[0]));
      const TensorSource* src = nullptr;
      for (const TensorSource& t : local)
        if (t.name == name) src = &t;
      STRATA_CHECK(src, "distributed: rank 0 asked for optimizer state " + name + ", which this rank does not hold");
      buf.resize((size_t)req[3]);
      src->fill_range(buf.data(), (size_t)req[2], (size_t)req[3]);
      world_->send(buf.data(), buf.size(), 0, kStateDataTag, "the checkpoint's optimizer state");
    }
  }

  // For the non-finite message: blocks read back from a tier without a checksum on every read could be corrupt.
  std::string tier_suspect() const {
    if (!placement_->any_streamed() || cfg_.memory.verify == VerifyPolicy::Always) return "";
    return std::string("; frozen blocks stream from a tier (") + placement_->describe() + ") checked only " +
           (cfg_.memory.verify == VerifyPolicy::Never ? "never" : "on the first read after each write") +
           " (memory.verify = \"" + std::string(enum_name(cfg_.memory.verify)) + "\"): if the data cannot explain it, rerun " +
           "with memory.verify = \"always\" to rule out a corrupted tier";
  }

  std::vector<int> blocks_for(int step) const {
    if (sampler_) return sampler_->active_at(step);
    std::vector<int> all(info_.config.n_layers);
    for (int l = 0; l < (int)all.size(); ++l) all[l] = l;
    return all;
  }

  // One optimizer step; the loss (NaN when skipped as non-finite), or nothing when a stop request arrived between
  // micro-batches: then the step is dropped whole (gradients discarded, the loader rewound to the step's start), so
  // a checkpoint saved now resumes bit-exactly, however long one step is.
  std::optional<double> step(TrainResult& r) {
    const auto t0 = Clock::now();
    prof_.set_step(step_ + 1);
    Profiler::Scope step_span(&prof_, "step", "train", -1);
    const std::vector<int> blocks = blocks_for(step_);
    if (owners_) update_owners(blocks);
    if (blocks != active_->blocks()) active_->switch_to(blocks);
    const LoaderState loader_at_start = train_loader_->state();
    // A step is accum x ranks micro-batches, read in the same order by every rank (so every loader stays where one
    // process with grad_accum x ranks would be); rank r computes those with index % ranks == r, and the gradient
    // sum over ranks is the single process's sum.
    const int B = cfg_.train.micro_batch, T = cfg_.data.seq_len, accum = cfg_.train.grad_accum;
    const int total = accum * ranks_;
    std::vector<int32_t> tokens((size_t)B * T), targets((size_t)B * T);
    model_->zero_grads();
    if (reducer_) reducer_->new_step(), reduced_.clear();
    double loss = 0.0;
    for (int a = 0; a < total; ++a) {
      if (!world_ && a > 0 && (stop_requested() || (opts_.stop_at_micro_batch > 0 &&
                                                     micro_batches_run_ >= opts_.stop_at_micro_batch))) {
        train_loader_->restore(loader_at_start);
        return std::nullopt;
      }
      train_loader_->next_batch(tokens.data(), targets.data());
      if (batches_) batches_->write(tokens, targets);
      if (a % ranks_ != rank_) continue;
      loss += model_->forward(tokens.data(), targets.data(), B, T);
      last_micro_batch_ = a / ranks_ == accum - 1;
      model_->backward(1.0f / (float)total);
      last_micro_batch_ = false;
      ++micro_batches_run_;
    }
    if (world_) {
      for (BlobId blob : ids().all())  // every trained gradient is summed, whatever backward reported
        if (model_->grads().has(blob) && !reduced_.count(blob)) reduce(blob);
      const auto t_wait = Clock::now();
      reducer_->wait();
      allreduce_seconds_ = std::chrono::duration<double>(Clock::now() - t_wait).count();
      if (!reducer_->ordered_on_stream())
        for (BlobId blob : ids().all())
          if (model_->grads().has(blob)) opt_->gradient_ready(blob, model_->grads());
      // The mean over every micro-batch of the step, summed in rank order: the same value on every rank.
      const std::vector<double> parts = world_->all_gather(loss, "the loss of step " + std::to_string(step_ + 1));
      loss = 0.0;
      for (double p : parts) loss += p;
    }
    loss /= total;
    r.active_blocks.push_back(active_->blocks());
    // Per blob, then summed in blob order. A sharded optimizer: each blob's sum of squares comes from its owner (the
    // only rank with its reduced gradient; the others add 0, exactly), so the norm has the unsharded run's bits.
    std::vector<double> per_blob(ids().all().size(), 0.0);
    for (BlobId blob : ids().all())
      if (model_->grads().has(blob) && owns(blob)) per_blob[blob.value] = model_->grads().sum_squares(blob);
    if (owners_) world_->sum_all(per_blob, "the gradient norm of step " + std::to_string(step_ + 1));
    double norm2 = 0.0;
    for (double x : per_blob) norm2 += x;
    const double norm = std::sqrt(norm2);
    const double lr = sched_.at(step_);
    const bool finite = std::isfinite(loss) && std::isfinite(norm);
    double optimizer_seconds = 0;
    if (finite) {
      nonfinite_in_a_row_ = 0;
      const double clip = cfg_.train.grad_clip > 0 ? std::min(1.0, cfg_.train.grad_clip / (norm + 1e-6)) : 1.0;
      Profiler::Scope span(&prof_, "optimizer (AdamW)", "optimizer", -1);
      const auto t_opt = Clock::now();
      opt_->step(model_->params(), model_->grads(), (float)lr, (float)clip);
      if (owners_) broadcast_weights();
      optimizer_seconds = std::chrono::duration<double>(Clock::now() - t_opt).count();
      for (BlobId blob : ids().all())
        if (owners_ ? model_->grads().has(blob) : opt_->is_active(blob)) dirty_.insert(blob);
    } else {
      opt_->discard_gradients();
      ++nonfinite_in_a_row_;
      ++nonfinite_total_;
      log("step %d: non-finite %s (%g); step skipped (%d in a row)\n", step_ + 1,
          std::isfinite(loss) ? "gradient norm" : "loss", std::isfinite(loss) ? norm : loss, nonfinite_in_a_row_);
      STRATA_USER_CHECK(nonfinite_in_a_row_ < cfg_.train.max_nonfinite_steps,
                        "stopping: " + std::to_string(nonfinite_in_a_row_) +
                            " steps in a row had a non-finite loss or gradient (train.max_nonfinite_steps = " +
                            std::to_string(cfg_.train.max_nonfinite_steps) + "); lower train.lr or check the data" +
                            tier_suspect());
    }
    ++step_;
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    last_lr_ = lr;
    last_tokens_per_s_ = (double)B * T * total / secs;
    StepRecord rec;
    rec.step = step_;
    rec.loss = loss;
    rec.lr = lr;
    rec.grad_norm = norm;
    rec.tokens = (int64_t)B * T * total;
    rec.seconds = secs;
    rec.active_layers = active_->blocks();
    rec.skipped = !finite;
    rec.optimizer_seconds = optimizer_seconds;
    if (reducer_) {
      rec.allreduce_bytes = (int64_t)reducer_->bytes_this_step();
      rec.allreduce_seconds = allreduce_seconds_;
    }
    rec.memory = backend_->memory().snapshot();
    rec.process = read_process_memory();
    rec.rss_base = rss_base_;
    rec.io_before = io_prev_;
    rec.io_after = io_prev_ = placement_->stats();
    write_metrics(step_metrics_json(rec));
    return finite ? loss : NAN;
  }

  void evaluate() {
    if (!eval_loader_) return;
    Profiler::Scope span(&prof_, "eval", "train", -1);
    eval_loader_->reset();
    const int B = cfg_.train.micro_batch, T = cfg_.data.seq_len;
    const size_t batches = std::min<size_t>(cfg_.train.eval_batches, std::max<size_t>(1, eval_loader_->num_windows() / B));
    std::vector<int32_t> tokens((size_t)B * T), targets((size_t)B * T);
    double sum = 0.0;
    size_t count = 0;
    for (size_t i = 0; i < batches; ++i) {
      eval_loader_->next_batch(tokens.data(), targets.data());
      const double l = model_->forward(tokens.data(), targets.data(), B, T);
      sum += l * model_->valid_targets();
      count += model_->valid_targets();
    }
    const double loss = count ? sum / count : 0.0;
    write_metrics(eval_metrics_json({step_, loss, count}));
    log("eval at step %d: loss %.4f | perplexity %.2f | %zu tokens\n", step_, loss, std::exp(loss), count);
  }

  // Starts the sum over ranks of `blob`'s gradient, tensor by tensor (a bf16 blob holds fp32 norm weights too).
  void reduce(BlobId blob) {
    if (!reduced_.insert(blob).second) return;
    const BlobLayout& layout = model_->grads().layout_of(blob);
    for (int i = 0; i < (int)layout.tensors.size(); ++i)
      reducer_->start(model_->grads().tensor(blob, i), (size_t)layout.tensors[i].numel(), layout.tensors[i].dtype,
                      owners_ ? owners_->owner(blob) : -1);
  }

  // Greedy samples of the current weights: printed, and one metrics line {"step", "samples": [...]}.
  void sample() {
    Profiler::Scope span(&prof_, "samples", "train", -1);
    const std::vector<TrainingSample> s = samples_->run(*model_);
    write_metrics(samples_metrics_json(step_, s));
    auto one_line = [](std::string t) {
      std::string o;
      for (char c : t) o += c == '\n' ? std::string("\\n") : std::string(1, c);
      return o;
    };
    for (const TrainingSample& x : s)
      log("sample at step %d: \"%s\" -> \"%s\"\n", step_, one_line(x.prompt).c_str(), one_line(x.text).c_str());
  }

  // A metrics line that cannot be written stops the run, never silently: a checkpoint is attempted first (it is
  // written to a temp folder and renamed, so a full disk cannot leave half of one), then the error names both.
  void write_metrics(const std::string& line) {
    if (!metrics_) return;  // ranks other than 0
    try {
      metrics_->write(line);
    } catch (const StrataError& e) {
      std::string saved;
      try {
        saved = "; saved a checkpoint at step " + std::to_string(step_) + " (" + save(false) + ")";
      } catch (const StrataError& e2) {
        saved = std::string("; the checkpoint at step ") + std::to_string(step_) + " failed too: " + e2.what();
      }
      STRATA_USER_FAIL(std::string("stopping at step ") + std::to_string(step_) + ": " + e.what() + saved +
                       "; resume with `strata train --resume " + cfg_.output.dir + "` once the disk has room");
    }
  }

  // Every rank's trained weights hash alike (checked at each checkpoint of a data-parallel run), else the run stops.
  void check_identical_weights(const std::vector<TensorSource>& weights) {
    XXH3_state_t* st = XXH3_createState();
    XXH3_64bits_reset(st);
    std::vector<char> buf(8 << 20);
    for (const TensorSource& t : weights) {
      size_t bytes = dtype_size(t.dtype);
      for (int64_t d : t.shape) bytes *= (size_t)d;
      for (size_t at = 0; at < bytes; at += buf.size()) {
        const size_t n = std::min(buf.size(), bytes - at);
        t.fill_range(buf.data(), at, n);
        XXH3_64bits_update(st, buf.data(), n);
      }
    }
    const uint64_t mine = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    const std::vector<uint64_t> all = world_->all_gather(mine, "the weight check at step " + std::to_string(step_));
    for (int r = 1; r < ranks_; ++r)
      STRATA_USER_CHECK(all[r] == all[0], "distributed: at step " + std::to_string(step_) + " the trained weights of "
                                              "rank " + std::to_string(r) + " differ from rank 0's; stopping");
    char hex[20];
    std::snprintf(hex, sizeof hex, "%016llx", (unsigned long long)mine);
    log("weights identical on %d ranks at step %d (xxh3 %s)\n", ranks_, step_, hex);
  }

  // check_ranks: a data-parallel run first checks that every rank holds the same weights (all ranks call save()
  // together; rank 0 alone writes). False on the error path of rank 0 alone.
  std::string save(bool check_ranks = true) {
    Profiler::Scope span(&prof_, "checkpoint", "io", -1);
    TrainerState s;
    s.step = step_;
    s.loader = train_loader_->state();
    for (BlobId blob : ids().all())
      if (owners_ ? model_->grads().has(blob) : opt_->is_active(blob)) s.active_blobs.push_back(blob);
    s.dirty_blobs.assign(dirty_.begin(), dirty_.end());
    s.adam_steps = opt_->all_steps();
    if (owners_) world_->max_all(s.adam_steps, "the optimizer step counts");  // each blob's owner knows its count
    s.nonfinite_in_a_row = nonfinite_in_a_row_;
    s.nonfinite_total = nonfinite_total_;
    s.config_hash = config_hash_;
    s.cpu_threads = omp_get_max_threads();
    s.ranks = ranks_;
    const auto weights = trained_weight_sources(*model_, *placement_, *backend_, s.dirty_blobs);
    if (world_ && check_ranks) check_identical_weights(weights);
    if (rank_ != 0) {
      if (owners_) serve_state();
      return "";
    }
    if (!owners_) return ckpts_.save(s, weights, opt_->state_tensors());
    const std::string path = ckpts_.save(s, weights, gathered_state(s.active_blobs));
    const int64_t done[4] = {-1, 0, 0, 0};
    for (int r = 1; r < ranks_; ++r) world_->send(done, sizeof done, r, kStateRequestTag, "the checkpoint's end");
    return path;
  }

  // Loads the newest complete checkpoint of run_dir; false (nothing changed) when the run has none yet.
  bool restore(const std::string& run_dir) {
    const auto latest = CheckpointStore::latest(run_dir);
    if (!latest) return false;
    const LoadedCheckpoint ck = CheckpointStore::load(*latest);
    const TrainerState& s = ck.state;
    validate_state(s, ids(), (fs::path(*latest) / "state.json").string());
    STRATA_USER_CHECK(s.config_hash == config_hash_,
                      *latest +
                          " was written with a different configuration; resume only changes train.steps and "
                          "[output] settings");
    // CPU results are bitwise reproducible only at one OpenMP thread count (1 and 2 threads differ): say so.
    if (s.cpu_threads > 0 && s.cpu_threads != omp_get_max_threads() && cfg_.memory.backend.rfind("cuda:", 0) != 0)
      log("strata: warning: %s was saved by a process with %d OpenMP threads, this one has %d: the run goes on, but "
          "not bit for bit as it would have; set OMP_NUM_THREADS=%d to keep it exact\n",
          latest->c_str(), s.cpu_threads, omp_get_max_threads(), s.cpu_threads);
    // Another number of ranks would be another global batch (micro_batch x grad_accum x ranks) and other owners.
    STRATA_USER_CHECK(s.ranks == ranks_,
                      *latest + " was saved by a run of " + std::to_string(s.ranks) + " rank" +
                          (s.ranks == 1 ? "" : "s") + ", this one has " + std::to_string(ranks_) + ": resume with " +
                          (s.ranks == 1 ? std::string("`strata train --resume`") :
                                          "`mpirun -np " + std::to_string(s.ranks) + " strata train --resume`") +
                          " (a step is micro_batch x grad_accum x ranks sequences)");
    STRATA_USER_CHECK(s.step <= cfg_.train.steps, "the checkpoint is at step " + std::to_string(s.step) +
                                                      ", beyond train.steps = " + std::to_string(cfg_.train.steps));
    // Trained blocks that belong to a tier go there; the rest are overlaid on the device. The active ones are
    // promoted below, after their tier copy is up to date.
    restore_trained_weights(*ck.weights, *model_, *placement_, *backend_, s.dirty_blobs);
    dirty_.insert(s.dirty_blobs.begin(), s.dirty_blobs.end());
    // Blocks whose optimizer state was on the device are the active set; everything else is parked or absent.
    for (BlobId blob : {ids().embedding(), ids().head(), ids().final_norm()})
      opt_->deactivate(blob, InactiveStatePolicy::Reset);
    std::vector<int> blocks;
    for (BlobId blob : s.active_blobs)
      if (ids().is_block(blob)) blocks.push_back(ids().layer_of(blob));
    active_->restore(blocks);
    if (owners_) replay_owners(s.step);
    opt_->load_state(*ck.optimizer, s.active_blobs, s.adam_steps,
                     owners_ ? std::function<bool(BlobId)>([this](BlobId b) { return owns(b); })
                             : std::function<bool(BlobId)>());
    train_loader_->restore(s.loader);
    step_ = s.step;
    nonfinite_in_a_row_ = s.nonfinite_in_a_row;
    nonfinite_total_ = s.nonfinite_total;
    return true;
  }

  RunConfig cfg_;
  TrainOptions opts_;
  const MpiWorld* world_;  // null: a single process
  int rank_, ranks_;
  std::unique_ptr<Backend> backend_;
  Profiler prof_;
  size_t rss_base_;  // resident bytes before the run allocated anything: the binary, its libraries, the runtime
  ModelInfo info_;
  CheckpointStore ckpts_;
  TrainingData data_;
  std::unique_ptr<DataLoader> train_loader_, eval_loader_;
  std::unique_ptr<BaseWeights> base_;  // where the weights come from (a folder stays open for placement)
  std::unique_ptr<LlamaModel> model_;
  std::unique_ptr<AdamWOptimizer> opt_;
  std::unique_ptr<BlockPlacement> placement_;
  Plan plan_;
  std::optional<LisaSampler> sampler_;
  std::optional<TrainingSamples> samples_;  // [train] sample_every
  std::unique_ptr<GradientReducer> reducer_;  // data parallel: sums the trained gradients over the ranks
  std::optional<ShardOwners> owners_;         // distributed.shard_optimizer: who holds each trained blob's state
  std::set<BlobId> reduced_;                  // blobs whose sum this step has started
  double allreduce_seconds_ = 0;
  LrSchedule sched_;
  std::unique_ptr<MetricsLog> metrics_;
  std::unique_ptr<BatchLog> batches_;
  std::unique_ptr<ActiveSet> active_;
  std::set<BlobId> dirty_;
  int step_ = 0;
  long long micro_batches_run_ = 0;  // by this process (for TrainOptions::stop_at_micro_batch)
  bool last_micro_batch_ = false;    // backward of a step's last micro-batch is running (gradients become final)
  int nonfinite_in_a_row_ = 0, nonfinite_total_ = 0;
  uint64_t config_hash_ = 0;
  double last_lr_ = 0, last_tokens_per_s_ = 0;
  PlacementStats io_prev_;
};

// True when `dir` holds nothing but (possibly) the lock file of an earlier process.
bool holds_nothing(const fs::path& dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.path().filename() != FolderLock::kFileName) return false;
  return !ec;
}

// Creates and locks the run folder for a fresh run and writes the resolved config into it (atomically). The folder
// must be new or empty; the emptiness is checked again once the lock is held, so two fresh starts cannot both pass.
std::unique_ptr<FolderLock> prepare_run_dir(const RunConfig& cfg) {
  const fs::path dir(cfg.output.dir);
  auto refuse_if_used = [&] {
    std::error_code ec;
    if (!fs::exists(dir, ec)) return;
    STRATA_USER_CHECK(fs::is_directory(dir, ec), "output.dir: " + dir.string() + " exists and is not a folder");
    if (holds_nothing(dir)) return;
    const bool is_run = fs::exists(dir / "config.toml", ec);
    STRATA_USER_CHECK(!is_run || CheckpointStore::latest(dir.string()),
                      "output.dir: " + dir.string() + " holds a run that stopped before its first checkpoint; "
                          "continue it with `strata train --resume " + dir.string() + "` (it starts again at step "
                          "0), or remove the folder to start over with a new config");
    STRATA_USER_FAIL("output.dir: " + dir.string() + " already holds " + (is_run ? "a run" : "other files") + "; " +
                     (is_run ? "resume it with `strata train --resume " + dir.string() + "` or " : "") +
                     "choose another output.dir");
  };
  refuse_if_used();
  std::error_code ec;
  fs::create_directories(dir, ec);
  STRATA_USER_CHECK(!ec, "output.dir: cannot create " + dir.string() + ": " + ec.message());
  auto lock = std::make_unique<FolderLock>(dir.string(), "output.dir");
  refuse_if_used();  // another fresh start may have filled it between the first check and the lock
  write_file_atomic((dir / "config.toml").string(), cfg.to_toml());
  return lock;
}

}  // namespace

TrainResult train(const RunConfig& cfg, const TrainOptions& opts) {
  TrainingRun run(cfg, opts);  // validates config, model and data before anything is written
  const bool fresh = opts.resume_dir.empty();
  const bool primary = !opts.world || opts.world->rank() == 0;
  // One process per run folder, for the whole run: held until this function returns (or the process dies). In a
  // data-parallel run, rank 0 holds it for all ranks, and the others wait until the folder is ready.
  std::unique_ptr<FolderLock> lock;
  if (primary) lock = fresh ? prepare_run_dir(cfg) : std::make_unique<FolderLock>(opts.resume_dir, "--resume");
  if (opts.world && opts.world->size() > 1) opts.world->barrier("the run folder's creation");
  try {
    run.place(!fresh);
  } catch (...) {
    if (fresh && primary) {  // the folder holds only what this call wrote: leave nothing behind
      std::error_code ec;
      fs::remove_all(cfg.output.dir, ec);
    }
    throw;
  }
  return run.run(opts.resume_dir);
}

}  // namespace strata
