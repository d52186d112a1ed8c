// estimate_step: FLOPs of forward, dX, dW and recompute, the bytes streamed from the tiers per optimizer step, and
// the seconds each takes on the given hardware; the step cannot be faster than the slowest of the three.
#include <algorithm>

#include "plan/plan_parts.h"

namespace strata {

void estimate_step(const PlanInputs& in, const RunConfig& cfg, const PlanOptions& opts, Plan& p) {
  const ModelConfig& mc = p.model;
  const int L = in.n_layers, gamma = in.gamma;
  const double C = mc.dim, F = mc.ffn_dim, V = mc.vocab, Q = mc.q_dim(), KV = mc.kv_dim();
  const double Pb = C * Q + 2 * C * KV + Q * C + 3 * C * F, Ph = V * C;
  const double B = in.micro_batch, T = in.seq_len, N = B * T;
  const double attn = 2.0 * B * T * (T + 1) * Q;  // QK^T and PV, causal
  const double lowest = in.train_embedding ? 0.0 : (double)(L - gamma) / (gamma + 1);  // expected lowest sampled
  const double bwd_blocks = L - lowest;
  double f = L * (2 * Pb * N + attn) + 2 * Ph * N;         // forward
  f += bwd_blocks * (2 * Pb * N + 2 * attn) + 2 * Ph * N;  // dX
  f += gamma * 2 * Pb * N + (in.train_head || (in.tied && in.train_embedding) ? 2 * Ph * N : 0);  // dW
  if (in.checkpointing) f += bwd_blocks * (2 * Pb * N + attn);                                     // recompute
  p.flops = f * cfg.train.grad_accum;
  const int streamed = L - p.placement.device;
  const double frozen_streamed = in.lisa ? streamed * (1.0 - (double)gamma / L) : 0.0;
  const double per_micro = frozen_streamed * (1.0 + bwd_blocks / L) - (frozen_streamed > 0 ? 1.0 : 0.0);
  p.streamed_bytes = std::max(0.0, per_micro) * p.blob_bytes * cfg.train.grad_accum;
  p.disk_bytes = streamed > 0 ? p.streamed_bytes * p.placement.disk / streamed : 0.0;
  p.compute_seconds = p.flops / (opts.hw.device_tflops * 1e12);
  p.h2d_seconds = p.streamed_bytes / (opts.hw.h2d_gbps * 1e9);
  p.disk_seconds = p.disk_bytes / (opts.hw.disk_gbps * 1e9);
  p.step_seconds_lower_bound = std::max({p.compute_seconds, p.h2d_seconds, p.disk_seconds});
  p.required_h2d_gbps = p.compute_seconds > 0 ? p.streamed_bytes / p.compute_seconds / 1e9 : 0;
  p.required_disk_gbps = p.compute_seconds > 0 ? p.disk_bytes / p.compute_seconds / 1e9 : 0;
}

}  // namespace strata
