// `strata presets`, `strata init-model` and `strata export`: making, listing and rewriting HF model folders.
// init-model streams a seeded init blob by blob; export loads a folder (validating it) and writes it back out.
#include <cstdio>

#include "backend/cpu/cpu_backend.h"
#include "engine/base_weights.h"
#include "engine/streamed_model.h"
#include "core/check.h"
#include "cli/commands.h"
#include "core/byte_size.h"
#include "core/progress_line.h"
#include "memory/memory_tracker.h"
#include "formats/hf_model_folder.h"
#include "formats/hf_export.h"
#include "model/presets.h"

namespace strata {

static DType parse_dtype(const std::string& s) {
  if (s == "f32" || s == "float32" || s == "F32") return DType::F32;
  if (s == "bf16" || s == "bfloat16" || s == "BF16") return DType::BF16;
  if (s == "f16" || s == "float16" || s == "F16") return DType::F16;
  STRATA_USER_FAIL("--dtype: '" + s + "' is not one of f32, bf16, f16");
}

// --max-shard-size: a byte size above 0.
static size_t parse_shard_size(const std::string& s) {
  const size_t n = parse_byte_size(s, "--max-shard-size");
  STRATA_USER_CHECK(n > 0, "--max-shard-size: '" + s + "' is not a usable shard size; give a size above 0, e.g. 5GB "
                           "or 512MiB");
  return n;
}

int run_presets() {
  std::printf("%-11s %9s  %-60s  %s\n", "preset", "params", "shape", "description");
  for (const auto& p : model_presets()) {
    const ModelConfig& c = p.info.config;
    const double n = (double)c.num_parameters();
    char params[32];
    std::snprintf(params, sizeof params, n >= 1e9 ? "%.2fB" : "%.2fM", n >= 1e9 ? n / 1e9 : n / 1e6);
    std::printf("%-11s %9s  %-60s  %s\n", p.name.c_str(), params, c.describe().c_str(), p.description.c_str());
  }
  return 0;
}

int run_init_model(const InitModelArgs& o) {
  const ModelInfo info = resolve_model_config(o.config);
  ExportOptions ex;
  ex.dtype = parse_dtype(o.dtype);
  ex.max_shard_bytes = parse_shard_size(o.max_shard_size);
  ex.overwrite = o.force;
  ex.progress = ProgressLine::to_file(stdout, "init-model: ");
  const ModelLayout layout = make_model_layout(info.config, DType::F32);
  const auto tensors = tensor_sources_from_init(layout, o.seed, info.initializer_range, ex.dtype);
  size_t bytes = 0;
  for (const auto& t : tensors) bytes += t.bytes();
  std::printf("init-model: %s, %.2fM parameters, seed %llu, std %g, %s -> %s (%s)\n", info.config.describe().c_str(),
              info.config.num_parameters() / 1e6, (unsigned long long)o.seed, info.initializer_range,
              to_string(ex.dtype), o.out.c_str(), format_bytes(bytes).c_str());
  write_hf_model(o.out, info, tensors, ex);
  std::printf("init-model: wrote %s\n", o.out.c_str());
  return 0;
}

int run_export(const ExportArgs& o) {
  ExportOptions ex;
  ex.dtype = parse_dtype(o.dtype);
  ex.max_shard_bytes = parse_shard_size(o.max_shard_size);
  ex.overwrite = o.force;
  ex.progress = ProgressLine::to_file(stdout, "export: ");
  LoadOptions lo;
  lo.non_finite = parse_non_finite_policy(o.non_finite, "--non-finite");
  CpuBackend be;
  StreamedModel model(o.input, be, lo);  // one blob in memory at a time
  std::printf("export: %s (%s) -> %s as %s\n", model.description().c_str(), model.info().config.describe().c_str(),
              o.out.c_str(), to_string(ex.dtype));
  write_hf_model(o.out, model.info(), model.tensor_sources(ex.dtype), ex);
  std::printf("export: wrote %s\n", o.out.c_str());
  return 0;
}

}  // namespace strata
