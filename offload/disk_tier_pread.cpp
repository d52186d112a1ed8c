// The fallback disk engine: a WorkerPool of kThreads threads doing pread/pwrite loops on 1 MiB chunks of each blob
// (O_DIRECT when the file system allows it, else buffered); short transfers continue, EINTR/EAGAIN retry.
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <unordered_map>

#include "core/check.h"
#include "core/worker_pool.h"
#include "offload/async_tier.h"
#include "offload/disk_tiers.h"
#include "offload/io_job.h"

namespace strata {
namespace {

constexpr int kThreads = 4;               // chunks in flight; the threads mostly sleep in the kernel
constexpr size_t kChunkBytes = 1 << 20;  // 1 MiB per call

class PreadTier final : public AsyncTier {
 public:
  PreadTier(ScratchFile file, int n_blobs, size_t blob_bytes, VerifyPolicy verify, BlobNamer namer)
      : AsyncTier(n_blobs, blob_bytes, verify, std::move(namer), "in " + file.path(), kDiskCorruptionRemedy),
        file_(std::move(file)),
        workers_(kThreads) {}

  // Every op has finished once wait_idle returns; workers_ (the last member) are then joined first.
  ~PreadTier() override { wait_idle(); }

  std::string name() const override {
    return file_.direct() ? "disk (pread, O_DIRECT)" : "disk (pread, buffered)";
  }

 protected:
  void start_io(Op& op) override {
    std::unique_ptr<IoJob> job = split_job(op, offset_of(op.id), blob_bytes_, kChunkBytes);
    // Taken before the job is shared: the last chunk to finish frees it, possibly before this loop ends.
    IoChunk* const chunks = job->chunks.data();
    const size_t n_chunks = job->chunks.size();
    {
      std::lock_guard<std::mutex> lock(mu_);
      jobs_.emplace(job.get(), std::move(job));
    }
    for (size_t i = 0; i < n_chunks; ++i) workers_.post([this, c = chunks + i] { run_chunk(*c); });
  }

 private:
  void run_chunk(IoChunk& c) {
    const std::string error = transfer(c);
    std::unique_ptr<IoJob> finished;
    {
      std::lock_guard<std::mutex> lock(mu_);
      IoJob* job = c.job;
      if (!error.empty() && job->error.empty()) job->error = error;
      if (--job->chunks_left == 0) {
        auto it = jobs_.find(job);
        finished = std::move(it->second);
        jobs_.erase(it);
      }
    }
    if (finished) finish_io(*finished->op, finished->error);
  }

  // Moves the whole chunk; returns an error message or "".
  std::string transfer(IoChunk& c) {
    const bool is_read = c.job->op->is_read;
    while (c.len > 0) {
      const ssize_t r = is_read ? ::pread(file_.fd(), c.buf, c.len, static_cast<off_t>(c.offset))
                                : ::pwrite(file_.fd(), c.buf, c.len, static_cast<off_t>(c.offset));
      if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (r <= 0) return io_error_message(blob_name(c.job->op->id), is_read, file_.path(), c, r < 0 ? errno : 0);
      c.buf += r;
      c.offset += static_cast<uint64_t>(r);
      c.len -= static_cast<size_t>(r);
    }
    return "";
  }

  ScratchFile file_;
  std::mutex mu_;  // guards jobs_ and the chunks_left / error of every job in it
  std::unordered_map<IoJob*, std::unique_ptr<IoJob>> jobs_;
  WorkerPool workers_;  // last: its threads start after everything they use exists
};

}  // namespace

std::unique_ptr<TierStore> make_pread_tier(ScratchFile file, int n_blobs, size_t blob_bytes, VerifyPolicy verify,
                                           BlobNamer namer) {
  return std::make_unique<PreadTier>(std::move(file), n_blobs, blob_bytes, verify, std::move(namer));
}

}  // namespace strata
