// BatchLog: batches.bin (output.save_batches), the exact token ids and targets of every micro-batch of a run, for
// replays (tools/replay_lisa_pytorch.py) and debugging. On resume it is cut back to the checkpoint's step.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace strata {

// Format: "STRBATCH", u32 version 1, u32 micro_batch, u32 seq_len, u32 grad_accum; then per step and micro-batch:
// tokens int32[micro_batch * seq_len], targets int32[micro_batch * seq_len].
class BatchLog {
 public:
  // keep_steps >= 0: continue an existing file, dropping what came after that many steps.
  BatchLog(const std::string& run_dir, int B, int T, int accum, int keep_steps);
  ~BatchLog();
  BatchLog(const BatchLog&) = delete;
  BatchLog& operator=(const BatchLog&) = delete;
  void write(const std::vector<int32_t>& tokens, const std::vector<int32_t>& targets);

 private:
  static constexpr size_t kHeader = 8 + 16;
  std::string path_;
  FILE* f_ = nullptr;
};

}  // namespace strata
