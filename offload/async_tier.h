// AsyncTier: the bookkeeping every TierStore shares: tickets, per-blob XXH3 checksums and the verify policy,
// stats and error messages. A subclass only moves bytes (start_io) and reports back (finish_io) from its own threads.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "offload/tier_store.h"

namespace strata {

class AsyncTier : public TierStore {
 public:
  // One outstanding read or write of a whole blob. Valid from start_io until finish_io returns.
  struct Op {
    Ticket ticket = 0;
    int id = 0;
    bool is_read = false;
    bool verify = false;      // reads: compare the data's checksum with `expected` on completion
    uint64_t expected = 0;    // the checksum of the blob's last write
    void* buf = nullptr;      // reads: destination; writes: source (const in spirit)
    std::chrono::steady_clock::time_point submitted;
    bool done = false;
    std::string error;        // set on failure; thrown by wait()
  };

  Ticket write(int id, const void* src) final;
  Ticket read(int id, void* dst) final;
  bool poll(Ticket t) final;
  void wait(Ticket t) final;
  TierStats stats() const final;
  const void* map(int id) final;

 protected:
  // `where` completes "checksum mismatch <where> at byte offset N" ("in /path/file" or "in host memory");
  // `remedy` is what the user should do about a corrupted blob.
  AsyncTier(int n_blobs, size_t blob_bytes, VerifyPolicy verify, BlobNamer namer, std::string where,
            std::string remedy);

  // Starts moving the blob_bytes() bytes of `op`; called without locks held. May throw StrataError only if nothing was
  // queued (the op is then rolled back and the error propagates from read()/write()).
  virtual void start_io(Op& op) = 0;
  // Reports that `op` finished (empty `error` = success), from any thread. Verifies read checksums per the policy.
  void finish_io(Op& op, const std::string& error);
  // Where blob `id` lives in host memory, for map(); null (the default) when the subclass cannot map.
  virtual const void* address_of(int) const { return nullptr; }
  // Blocks until no operation is in flight; subclass destructors call it before stopping their threads.
  void wait_idle();

  std::string blob_name(int id) const;
  uint64_t offset_of(int id) const { return static_cast<uint64_t>(id) * blob_bytes_; }

 private:
  struct BlobState {
    bool written = false;         // a write was submitted and did not fail
    bool write_in_flight = false;
    int reads_in_flight = 0;
    bool verify_claimed = false;  // VerifyPolicy::First: a read since the last write has verified (or is verifying)
    uint64_t checksum = 0;
  };
  Ticket submit(std::unique_ptr<Op> op);
  void check_id_and_alignment(int id, const void* p, const char* what) const;

  VerifyPolicy verify_;
  BlobNamer namer_;
  std::string where_, remedy_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<BlobState> blobs_;
  std::unordered_map<Ticket, std::unique_ptr<Op>> ops_;  // outstanding and completed-but-not-waited ops
  int in_flight_ = 0;
  Ticket next_ticket_ = 1;
  TierStats stats_;
};

}  // namespace strata
