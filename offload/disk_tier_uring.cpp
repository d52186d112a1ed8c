// The io_uring disk engine: blobs split into 1 MiB O_DIRECT reads/writes on a registered file, at most kQueueDepth
// in flight; callers submit under a lock, one reaper thread blocks on completions, resubmits short or -EAGAIN chunks.
#include <liburing.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "core/check.h"
#include "offload/async_tier.h"
#include "offload/disk_tiers.h"
#include "offload/io_job.h"

namespace strata {
namespace {

constexpr unsigned kQueueDepth = 8;       // chunks in flight, like fio --iodepth=8
constexpr unsigned kRingEntries = 16;     // SQ size (CQ is twice that): never full with kQueueDepth in flight
constexpr size_t kChunkBytes = 1 << 20;  // 1 MiB per SQE, like fio --bs=1M

// An io_uring instance (RAII).
struct Ring {
  io_uring ring{};
  explicit Ring(const std::string& path) {
    const int r = io_uring_queue_init(kRingEntries, &ring, 0);
    STRATA_USER_CHECK(r == 0, "io_uring unavailable (" + std::string(std::strerror(-r)) + ") for the offload file " +
                                  path + "; use the pread disk I/O (or auto)");
  }
  ~Ring() { io_uring_queue_exit(&ring); }
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;
};

// io_uring_enter fails only on ring-level misuse (a bad SQE gets an error CQE instead): a bug, not an I/O error.
[[noreturn]] void ring_failure(const char* what, const std::string& path, int err) {
  std::fprintf(stderr, "strata: internal error: %s on the offload file %s failed (%s)\n", what, path.c_str(),
               std::strerror(err));
  std::abort();
}

class UringTier final : public AsyncTier {
 public:
  UringTier(ScratchFile file, int n_blobs, size_t blob_bytes, VerifyPolicy verify, BlobNamer namer)
      : AsyncTier(n_blobs, blob_bytes, verify, std::move(namer), "in " + file.path(), kDiskCorruptionRemedy),
        file_(std::move(file)),
        ring_(file_.path()) {
    STRATA_CHECK(file_.direct(), "internal: the io_uring disk tier needs an O_DIRECT file (" + file_.path() + ")");
    int fd = file_.fd();
    fixed_file_ = io_uring_register_files(&ring_.ring, &fd, 1) == 0;  // optional: saves an fd lookup per SQE
    reaper_ = std::thread([this] { reap(); });
  }

  ~UringTier() override {
    wait_idle();
    {
      std::lock_guard<std::mutex> lock(sq_mu_);
      io_uring_sqe* sqe = io_uring_get_sqe(&ring_.ring);  // the SQ is empty: nothing is in flight
      io_uring_prep_nop(sqe);
      io_uring_sqe_set_data(sqe, nullptr);  // tells the reaper to stop
      submit_locked();
    }
    reaper_.join();
  }

  std::string name() const override { return "disk (io_uring, O_DIRECT)"; }

 protected:
  void start_io(Op& op) override {
    std::unique_ptr<IoJob> job = split_job(op, offset_of(op.id), blob_bytes_, kChunkBytes);
    std::lock_guard<std::mutex> lock(sq_mu_);
    for (IoChunk& c : job->chunks) pending_.push_back(&c);
    jobs_.emplace(job.get(), std::move(job));
    fill_locked();
  }

 private:
  // Moves pending chunks into the SQ up to kQueueDepth in flight and submits them. Holds sq_mu_.
  void fill_locked() {
    unsigned prepared = 0;
    while (in_flight_ < kQueueDepth && !pending_.empty()) {
      io_uring_sqe* sqe = io_uring_get_sqe(&ring_.ring);
      if (sqe == nullptr) break;
      IoChunk* c = pending_.front();
      pending_.pop_front();
      const int fd = fixed_file_ ? 0 : file_.fd();
      if (c->job->op->is_read) {
        io_uring_prep_read(sqe, fd, c->buf, static_cast<unsigned>(c->len), c->offset);
      } else {
        io_uring_prep_write(sqe, fd, c->buf, static_cast<unsigned>(c->len), c->offset);
      }
      if (fixed_file_) io_uring_sqe_set_flags(sqe, IOSQE_FIXED_FILE);
      io_uring_sqe_set_data(sqe, c);
      in_flight_++;
      prepared++;
    }
    if (prepared > 0) submit_locked();
  }

  // Submits everything in the SQ, retrying transient refusals. Holds sq_mu_.
  void submit_locked() {
    for (;;) {
      const int r = io_uring_submit(&ring_.ring);
      if (r >= 0 && io_uring_sq_ready(&ring_.ring) == 0) return;
      if (r < 0 && r != -EAGAIN && r != -EBUSY && r != -EINTR) ring_failure("io_uring_submit", file_.path(), -r);
      if (r < 0 && r != -EINTR) std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }

  // The completion thread: blocks in io_uring_wait_cqe (no spinning) until the destructor's NOP arrives.
  void reap() {
    for (;;) {
      io_uring_cqe* cqe = nullptr;
      const int r = io_uring_wait_cqe(&ring_.ring, &cqe);
      if (r == -EINTR || r == -EAGAIN) continue;
      if (r < 0) ring_failure("io_uring_wait_cqe", file_.path(), -r);
      auto* chunk = static_cast<IoChunk*>(io_uring_cqe_get_data(cqe));
      const int res = cqe->res;
      io_uring_cqe_seen(&ring_.ring, cqe);
      if (chunk == nullptr) return;
      complete(chunk, res);
    }
  }

  void complete(IoChunk* c, int res) {
    std::unique_ptr<IoJob> finished;
    {
      std::lock_guard<std::mutex> lock(sq_mu_);
      in_flight_--;
      IoJob* job = c->job;
      bool chunk_done = true;
      if (res == -EAGAIN || res == -EINTR) {
        pending_.push_front(c);  // try again
        chunk_done = false;
      } else if (res <= 0) {
        if (job->error.empty()) {
          job->error = io_error_message(blob_name(job->op->id), job->op->is_read, file_.path(), *c, -res);
        }
      } else if (static_cast<size_t>(res) < c->len) {
        c->buf += res;  // short transfer: resubmit the rest first
        c->offset += static_cast<uint64_t>(res);
        c->len -= static_cast<size_t>(res);
        pending_.push_front(c);
        chunk_done = false;
      }
      if (chunk_done && --job->chunks_left == 0) {
        auto it = jobs_.find(job);
        finished = std::move(it->second);
        jobs_.erase(it);
      }
      fill_locked();
    }
    if (finished) finish_io(*finished->op, finished->error);
  }

  ScratchFile file_;
  Ring ring_;
  bool fixed_file_ = false;
  std::mutex sq_mu_;  // guards the SQ side of ring_, pending_, jobs_, in_flight_
  std::deque<IoChunk*> pending_;
  std::unordered_map<IoJob*, std::unique_ptr<IoJob>> jobs_;
  unsigned in_flight_ = 0;
  std::thread reaper_;  // last: starts after everything it uses exists
};

}  // namespace

int probe_io_uring() {
  io_uring ring{};
  const int r = io_uring_queue_init(kRingEntries, &ring, 0);
  if (r < 0) return -r;
  io_uring_queue_exit(&ring);
  return 0;
}

std::unique_ptr<TierStore> make_uring_tier(ScratchFile file, int n_blobs, size_t blob_bytes, VerifyPolicy verify,
                                           BlobNamer namer) {
  return std::make_unique<UringTier>(std::move(file), n_blobs, blob_bytes, verify, std::move(namer));
}

}  // namespace strata
