// judge: the plan's one-line description of the run, and whether its peaks fit the device and host budgets (a
// placement that could not work has already set the verdict).
#include <algorithm>
#include <cstdio>

#include "plan/plan_parts.h"

namespace strata {

void judge(const PlanInputs& in, const RunConfig& cfg, const PlanOptions& /*opts*/, Plan& p) {
  const int kDev = (int)MemoryKind::Device, kPinned = (int)MemoryKind::HostPinned, kHost = (int)MemoryKind::Host;
  const std::string mode =
      in.lisa ? "LISA " + std::to_string(in.gamma) + "/" + std::to_string(in.n_layers) : "full fine-tuning";
  char desc[256];
  std::snprintf(desc, sizeof desc, "%s, %d x %d tokens x %d accum, %s, frozen blocks: %s, %s%s", mode.c_str(),
                in.micro_batch, in.seq_len, cfg.train.grad_accum, in.checkpointing ? "checkpointing" : "no checkpointing",
                enum_name(cfg.memory.frozen_tier).data(), in.bf16 ? "bf16" : "fp32",
                in.host_optimizer ? ", optimizer on host" : "");
  p.description = desc;
  if (!p.fits) return;
  if (p.peak[kDev] > p.device_budget) {
    p.fits = false;
    p.verdict = "does not fit: device peak " + gb(p.peak[kDev]) + " > device budget " + gb(p.device_budget);
  } else if (p.peak[kPinned] > p.host_budget || p.peak[kHost] > p.host_budget) {
    p.fits = false;
    p.verdict = "does not fit: host peak " + gb(std::max(p.peak[kPinned], p.peak[kHost])) + " > host budget " +
                gb(p.host_budget);
  } else {
    p.verdict = "fits: device peak " + gb(p.peak[kDev]) +
                (p.device_budget == SIZE_MAX ? " (no device budget)" : " of " + gb(p.device_budget));
  }
}

}  // namespace strata
