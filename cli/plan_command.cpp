// `strata plan CONFIG.toml`: what the run needs, where every byte lives, whether it fits and what would make it
// fit, for any model shape (presets or an HF config.json), without loading weights.
#include <cstdio>
#include <filesystem>

#include "core/check.h"
#include "cli/commands.h"
#include "plan/planner.h"
#include "core/byte_size.h"
#include "formats/hf_config.h"
#include "model/presets.h"

namespace strata {

ModelConfig plan_model_config(const ModelSection& m) {
  if (!m.preset.empty()) {
    const ModelPreset* p = find_preset(m.preset);
    STRATA_USER_CHECK(p, "model.preset: unknown preset '" + m.preset + "' (see `strata presets`)");
    return p->info.config;
  }
  std::filesystem::path cfg(m.path);
  if (std::filesystem::is_directory(cfg)) cfg /= "config.json";
  return read_hf_config(cfg.string()).config;  // the config only: no weights are opened
}

int run_plan(const PlanArgs& o) {
  RunConfig cfg = RunConfig::load(o.config, o.overrides);
  if (!o.device_budget.empty()) {
    parse_byte_size(o.device_budget, "--device-budget");
    cfg.memory.device_budget = o.device_budget;
  }
  if (!o.host_budget.empty()) {
    parse_byte_size(o.host_budget, "--host-budget");
    cfg.memory.host_budget = o.host_budget;
  }
  const ModelConfig model = plan_model_config(cfg.model);
  PlanOptions po;
  if (!o.precision.empty()) po.precision = parse_enum<Precision>(o.precision, "--precision");
  po.ranks = o.ranks;
  po.hw = load_hardware();
  if (cfg.memory.backend.rfind("cuda", 0) == 0 && po.hw.source == "defaults") {
    // No probe of a GPU machine: assume an H100/H200-class device (override with the flags below).
    po.hw.device_tflops = 400, po.hw.h2d_gbps = 50, po.hw.disk_gbps = 7;
    po.hw.source = "defaults for an H100/H200-class GPU, PCIe 5, NVMe";
  }
  if (o.device_tflops > 0) po.hw.device_tflops = o.device_tflops, po.hw.source = "command line";
  if (o.h2d_gbps > 0) po.hw.h2d_gbps = o.h2d_gbps, po.hw.source = "command line";
  if (o.disk_gbps > 0) po.hw.disk_gbps = o.disk_gbps, po.hw.source = "command line";
  const Plan p = make_plan(cfg, model, po);
  if (o.json) {
    std::fputs(p.to_json().c_str(), stdout);
    return p.fits ? 0 : 3;
  }
  std::fputs(p.to_text().c_str(), stdout);
  std::printf("  hardware (%s): %.3g TFLOP/s, %.3g GB/s host->device, %.3g GB/s disk\n", po.hw.source.c_str(),
              po.hw.device_tflops, po.hw.h2d_gbps, po.hw.disk_gbps);
  std::printf("\ncomparison (same model and settings):\n%s", comparison_table(compare_modes(cfg, model, po)).c_str());
  return p.fits ? 0 : 3;
}

}  // namespace strata
