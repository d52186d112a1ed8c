// InferenceModel: resolves the path, builds the model in the requested precision, places its blocks (resident or in
// a tier, as training does), loads the non-block weights, and finds the tokenizer the model was trained with.
#include "engine/inference_model.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "backend/backend_registry.h"
#include "config/run_config.h"
#include "core/check.h"

namespace strata {

namespace fs = std::filesystem;

namespace {

// A fresh path for the disk tier when none is given: in $TMPDIR (else /var/tmp, disk-backed on most systems).
std::string temporary_tier_path() {
  const char* dir = std::getenv("TMPDIR");
  const fs::path base = dir && *dir ? fs::path(dir) : fs::path("/var/tmp");
  const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
  return (base / ("strata-generate-" + std::to_string(::getpid()) + "-" + std::to_string(stamp) + ".offload"))
      .string();
}

bool has_tokenizer_files(const fs::path& dir) {
  std::error_code ec;
  return fs::exists(dir / "tokenizer.model", ec) || fs::exists(dir / "tokenizer.json", ec);
}

}  // namespace

InferenceModel::InferenceModel(const std::string& path, const InferenceOptions& o) {
  backend_ = make_backend(o.backend);
  const ModelPath mp = resolve_model_path(path);
  std::optional<RunConfig> run;
  if (!mp.run_dir.empty()) run = RunConfig::load((fs::path(mp.run_dir) / "config.toml").string());
  source_ = std::make_unique<StreamedModel>(path, *backend_);

  // The tokenizer: given, or the run's data.tokenizer, or the files next to the HF model.
  std::string spec = o.tokenizer;
  if (spec.empty() && run) {
    spec = run->data.tokenizer;
    if (spec == "model") spec = run->model.path;
  } else if (spec.empty() && has_tokenizer_files(path)) {
    spec = path;
  }
  if (!spec.empty()) tokenizer_ = make_tokenizer(spec);
  no_tokenizer_hint_ = path + " has no tokenizer (no tokenizer.model or tokenizer.json in the folder); pass "
                       "--tokenizer (a tokenizer.model, a tokenizer.json, a folder holding one, or byte), or give "
                       "token ids with --prompt-ids";
  const ModelConfig& cfg = source_->info().config;
  if (tokenizer_)
    STRATA_USER_CHECK(tokenizer_->vocab_size() <= cfg.vocab,
                      "the tokenizer " + tokenizer_->name() + " has " + std::to_string(tokenizer_->vocab_size()) +
                          " ids but the model's vocabulary has " + std::to_string(cfg.vocab) +
                          ": it is not this model's tokenizer (see --tokenizer)");

  ModelOptions mo;
  mo.allocate_blocks = false;
  mo.precision = o.precision.value_or(run ? run->train.precision : Precision::F32);
  model_ = std::make_unique<LlamaModel>(*backend_, cfg, mo);
  model_->set_all_trainable(false);
  for (BlobId blob : model_->ids().all())
    if (!model_->ids().is_block(blob)) source_->load_blob(model_->params(), blob, *backend_);
  PlacementOptions po;
  po.frozen_tier = o.blocks;
  po.prefetch = o.prefetch;
  po.io = o.io;
  po.trained_blocks = 0;
  if (o.blocks == FrozenTier::Disk || o.blocks == FrozenTier::Auto) {
    if (o.disk_path.empty()) {
      po.disk_path = temp_disk_path_ = temporary_tier_path();
    } else {
      std::error_code ec;
      STRATA_USER_CHECK(!fs::exists(o.disk_path, ec),
                        "--disk-path " + o.disk_path + " exists; give a new file (it is created and removed)");
      po.disk_path = o.disk_path;
    }
  }
  if (o.log) {
    po.warn = [log = o.log](const std::string& m) { log("strata: warning: " + m); };
    po.progress = o.log;
  }
  placement_ = std::make_unique<BlockPlacement>(*backend_, *model_, *source_, po);
}

InferenceModel::~InferenceModel() {
  placement_.reset();  // closes (and removes) the disk tier's file
  if (!temp_disk_path_.empty()) {
    std::error_code ec;
    fs::remove(temp_disk_path_, ec);
  }
}

}  // namespace strata
