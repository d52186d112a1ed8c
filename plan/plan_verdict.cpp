// judge: the plan's one-line description of the run, and whether its peaks fit the device and host budgets (a
// placement that could not work has already set the verdict); which budgets fail, with figures.
#include <algorithm>
#include <cstdio>

#include "plan/plan_parts.h"

namespace strata {

void judge(const PlanInputs& in, const RunConfig& cfg, const PlanOptions& /*opts*/, Plan& p) {
  const int kDev = (int)MemoryKind::Device;
  const std::string mode =
      in.lisa ? "LISA " + std::to_string(in.gamma) + "/" + std::to_string(in.n_layers) : "full fine-tuning";
  char desc[256];
  std::snprintf(desc, sizeof desc, "%s, %d x %d tokens x %d accum, %s, frozen blocks: %s, %s%s", mode.c_str(),
                in.micro_batch, in.seq_len, cfg.train.grad_accum, in.checkpointing ? "checkpointing" : "no checkpointing",
                enum_name(cfg.memory.frozen_tier).data(), in.bf16 ? "bf16" : "fp32",
                in.host_optimizer ? ", optimizer on host" : "");
  p.description = desc;
  if (!p.fits) return;
  const FailingBudgets f = failing_budgets(p);
  if (f.device || f.host) {
    p.fits = false;
    p.verdict = "does not fit: " + peaks_against_budgets(p);
  } else {
    p.verdict = "fits: device peak " + gb(p.peak[kDev]) +
                (p.device_budget == SIZE_MAX ? " (no device budget)" : " of " + gb(p.device_budget));
  }
}

size_t host_peak(const Plan& p) {
  return std::max(p.peak[(int)MemoryKind::HostPinned], p.peak[(int)MemoryKind::Host]);
}

FailingBudgets failing_budgets(const Plan& p) {
  FailingBudgets f;
  f.device = p.peak[(int)MemoryKind::Device] > p.device_budget;
  f.host = host_peak(p) > p.host_budget;
  f.placement = !p.fits && !f.device && !f.host;
  return f;
}

std::string peaks_against_budgets(const Plan& p) {
  const FailingBudgets f = failing_budgets(p);
  std::string s = "device peak " + gb(p.peak[(int)MemoryKind::Device]);
  if (f.device) s += " > device budget " + gb(p.device_budget);
  if (p.host_budget != SIZE_MAX || f.host) {
    s += ", host peak " + gb(host_peak(p));
    if (f.host) s += " > host budget " + gb(p.host_budget);
  }
  return s;
}

}  // namespace strata
