// Per-op breakdown of one LLaMA block's forward + backward on the bf16 engine (bench_gpu part b2): replays the
// backend calls LlamaModel makes for a 1-block step, times each distinct call alone, and reports where the time goes.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "model/model_config.h"

namespace strata::bench {

// Writes n deterministic finite values of `dtype` to host memory `dst`: ones when `ones`, else uniform with standard
// deviation `std` (bench/fill_values.h).
using FillFn = void (*)(void* dst, DType dtype, int64_t n, bool ones, float std, uint64_t salt);

// One row: the call sites of one backend op with one shape (and flags), timed once, counted `calls` times per step.
struct OpTiming {
  std::string op;     // Backend member, e.g. "linear_backward_bf16"
  std::string sites;  // the model's call sites, e.g. "q/k/v/o"
  std::string shape;  // e.g. "4096 x 4096 -> 4096, dx+dw"
  int calls = 0;      // per block step
  double ms_per_call = 0;
  double flops = 0;  // per call; 0 for memory-bound ops
  double bytes = 0;  // minimum memory traffic per call (fp32 activations, bf16 weights)
  double ms_per_step() const { return ms_per_call * calls; }
  double tflops() const { return ms_per_call > 0 ? flops / (ms_per_call * 1e-3) / 1e12 : 0; }
  double gbps() const { return ms_per_call > 0 ? bytes / (ms_per_call * 1e-3) / 1e9 : 0; }
};

struct OpBreakdown {
  std::string backend;
  int B = 0, T = 0;
  int warmup = 0, reps = 0;
  std::vector<OpTiming> rows;   // in the order of the first call of the step
  double sum_ms = 0;            // sum of the rows' ms per step
  double replay_ms = 0;         // every call of the step queued back to back, median of 3
  bool outputs_finite = false;  // loss, attention output and gradients finite after the replays and the timing
  // Rounding the bf16 GEMMs' fp32 operands (x, dout) with convert_f32_to_bf16, as cuda_linear_bf16.cu does inside
  // each linear_*_bf16 call: already in the linear rows, not in sum_ms.
  int convert_calls = 0;
  double convert_ms = 0;
};

// Builds the 1-block step of `cfg` (bf16 weights, no checkpointing, embedding/head/final norm frozen, the block
// trainable: what bench_gpu part b measures) on a fresh `backend_name` backend with B x T tokens, and times each
// distinct call: `warmup` untimed calls, then the median of `reps` batches (calls per batch chosen to last ~1 ms).
OpBreakdown block_op_breakdown(const std::string& backend_name, const ModelConfig& cfg, int B, int T, FillFn fill,
                               int warmup = 2, int reps = 10);

// The table, the sum and its ratio to `block_ms` (the measured step), indented by 3 spaces.
void print_op_breakdown(const OpBreakdown& r, double block_ms);
nlohmann::json op_breakdown_json(const OpBreakdown& r, double block_ms);
// "op sites ms (share%), ..." for the `k` rows with the most ms per step.
std::string top_ops(const OpBreakdown& r, double block_ms, int k);

}  // namespace strata::bench
