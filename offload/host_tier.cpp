// The host tier: every blob in one pinned host allocation (accounted as Weights: they are the frozen weights), and
// a one-thread WorkerPool that does the copies in submission order, so read() and write() return at once and copies
// overlap compute.
#include <cstring>

#include "backend/backend.h"
#include "core/check.h"
#include "core/worker_pool.h"
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
        worker_(1) {}

  // Every op has finished once wait_idle returns; worker_ (the last member) is then joined first.
  ~HostTier() override { wait_idle(); }

  std::string name() const override { return "host"; }

 protected:
  const void* address_of(int id) const override { return storage_.as<char>() + offset_of(id); }
  void start_io(Op& op) override {
    worker_.post([this, &op] { copy(op); });
  }

 private:
  void copy(Op& op) {
    char* blob = storage_.as<char>() + offset_of(op.id);
    if (op.is_read) {
      std::memcpy(op.buf, blob, blob_bytes_);
    } else {
      std::memcpy(blob, op.buf, blob_bytes_);
    }
    finish_io(op, "");
  }

  Buffer storage_;     // n_blobs * blob_bytes, blob id at id * blob_bytes
  WorkerPool worker_;  // one thread: copies run in submission order. Last: starts after everything it uses exists
};

}  // namespace

std::unique_ptr<TierStore> make_host_tier(Backend& backend, int n_blobs, size_t blob_bytes, VerifyPolicy verify,
                                          BlobNamer namer) {
  return std::make_unique<HostTier>(backend, n_blobs, blob_bytes, verify, std::move(namer));
}

}  // namespace strata
