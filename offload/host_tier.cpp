// The host tier: every blob in one pinned host allocation (accounted as Weights: they are the frozen weights), and
// one worker thread that does the copies, so read() and write() return at once and copies overlap compute.
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "backend/backend.h"
#include "core/check.h"
#include "offload/async_tier.h"

namespace strata {
namespace {

class HostTier final : public AsyncTier {
 public:
  HostTier(Backend& backend, int n_blobs, size_t blob_bytes, VerifyPolicy verify, BlobNamer namer)
      : AsyncTier(n_blobs, blob_bytes, verify, std::move(namer), "in host memory",
                  "host memory is corrupted (a stray write or failing RAM); restart the run"),
        storage_(backend.alloc(MemoryKind::HostPinned, static_cast<size_t>(n_blobs) * blob_bytes,
                               MemoryCategory::Weights)),
        worker_([this] { run(); }) {}

  ~HostTier() override {
    wait_idle();
    {
      std::lock_guard<std::mutex> lock(q_mu_);
      stop_ = true;
    }
    q_cv_.notify_all();
    worker_.join();
  }

  std::string name() const override { return "host"; }

 protected:
  const void* address_of(int id) const override { return storage_.as<char>() + offset_of(id); }
  void start_io(Op& op) override {
    {
      std::lock_guard<std::mutex> lock(q_mu_);
      queue_.push_back(&op);
    }
    q_cv_.notify_one();
  }

 private:
  void run() {
    for (;;) {
      Op* op = nullptr;
      {
        std::unique_lock<std::mutex> lock(q_mu_);
        q_cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stop_ and nothing left
        op = queue_.front();
        queue_.pop_front();
      }
      char* blob = storage_.as<char>() + offset_of(op->id);
      if (op->is_read) {
        std::memcpy(op->buf, blob, blob_bytes_);
      } else {
        std::memcpy(blob, op->buf, blob_bytes_);
      }
      finish_io(*op, "");
    }
  }

  Buffer storage_;  // n_blobs * blob_bytes, blob id at id * blob_bytes
  std::mutex q_mu_;   // guards queue_ and stop_
  std::condition_variable q_cv_;
  std::deque<Op*> queue_;
  bool stop_ = false;
  std::thread worker_;  // last: starts after everything it uses exists
};

}  // namespace

std::unique_ptr<TierStore> make_host_tier(Backend& backend, int n_blobs, size_t blob_bytes, VerifyPolicy verify,
                                          BlobNamer namer) {
  return std::make_unique<HostTier>(backend, n_blobs, blob_bytes, verify, std::move(namer));
}

}  // namespace strata
