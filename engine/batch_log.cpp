// BatchLog implementation (plain stdio; the file is a debugging aid, flushed after every micro-batch).
#include "engine/batch_log.h"

#include <filesystem>

#include "core/check.h"

namespace strata {

namespace fs = std::filesystem;

BatchLog::BatchLog(const std::string& run_dir, int B, int T, int accum, int keep_steps) {
  path_ = (fs::path(run_dir) / "batches.bin").string();
  const size_t per_step = (size_t)accum * 2 * B * T * sizeof(int32_t);
  std::error_code ec;
  if (keep_steps >= 0 && fs::exists(path_, ec)) {
    fs::resize_file(path_, kHeader + per_step * keep_steps, ec);  // drop steps after the checkpoint
    f_ = std::fopen(path_.c_str(), "ab");
  } else {
    f_ = std::fopen(path_.c_str(), "wb");
    const uint32_t h[4] = {1, (uint32_t)B, (uint32_t)T, (uint32_t)accum};
    if (f_) std::fwrite("STRBATCH", 1, 8, f_), std::fwrite(h, sizeof h, 1, f_);
  }
  STRATA_USER_CHECK(f_, "cannot open " + path_ + " for writing");
}

BatchLog::~BatchLog() { std::fclose(f_); }

void BatchLog::write(const std::vector<int32_t>& tokens, const std::vector<int32_t>& targets) {
  const bool ok = std::fwrite(tokens.data(), sizeof(int32_t), tokens.size(), f_) == tokens.size() &&
                  std::fwrite(targets.data(), sizeof(int32_t), targets.size(), f_) == targets.size();
  STRATA_USER_CHECK(ok && std::fflush(f_) == 0, "writing " + path_ + " failed (disk full?)");
}

}  // namespace strata
