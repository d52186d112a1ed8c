// Implements AsyncTier: ticket table, per-blob state (written, in-flight, verified), XXH3 checksums computed at
// write submission and checked at read completion, stats, and the one-line errors wait() throws.
#include "offload/async_tier.h"

#include <xxhash.h>

#include "core/check.h"

namespace strata {

AsyncTier::AsyncTier(int n_blobs, size_t blob_bytes, VerifyPolicy verify, BlobNamer namer, std::string where,
                     std::string remedy)
    : TierStore(n_blobs, blob_bytes),
      verify_(verify),
      namer_(std::move(namer)),
      where_(std::move(where)),
      remedy_(std::move(remedy)),
      blobs_(n_blobs > 0 ? n_blobs : 0) {
  STRATA_CHECK(n_blobs > 0, "tier store: the number of blobs must be positive (got " + std::to_string(n_blobs) + ")");
  STRATA_CHECK(blob_bytes > 0 && blob_bytes % 4096 == 0,
               "tier store: the blob size must be a positive multiple of 4096 bytes (got " +
                   std::to_string(blob_bytes) + "); pad layer blobs to 4 KiB");
}

std::string AsyncTier::blob_name(int id) const { return namer_ ? namer_(id) : "blob " + std::to_string(id); }

void AsyncTier::check_id_and_alignment(int id, const void* p, const char* what) const {
  STRATA_CHECK(id >= 0 && id < n_blobs_, std::string("tier store ") + what + ": blob id " + std::to_string(id) +
                                             " is out of range [0, " + std::to_string(n_blobs_) + ")");
  STRATA_CHECK(p != nullptr && reinterpret_cast<uintptr_t>(p) % 4096 == 0,
               blob_name(id) + ": the " + what + " buffer must be 4096-byte aligned (allocate it with the backend)");
}

Ticket AsyncTier::write(int id, const void* src) {
  check_id_and_alignment(id, src, "write");
  auto op = std::make_unique<Op>();
  op->id = id;
  op->buf = const_cast<void*>(src);
  const uint64_t checksum = XXH3_64bits(src, blob_bytes_);  // outside the lock: a whole blob
  {
    std::lock_guard<std::mutex> lock(mu_);
    BlobState& b = blobs_[id];
    STRATA_CHECK(!b.write_in_flight && b.reads_in_flight == 0,
                 blob_name(id) + ": write while another " + (b.write_in_flight ? "write" : "read") +
                     " of this blob is in flight; wait for it first");
    b.write_in_flight = true;
    b.written = false;
    b.verify_claimed = false;
    b.checksum = checksum;
  }
  return submit(std::move(op));
}

Ticket AsyncTier::read(int id, void* dst) {
  check_id_and_alignment(id, dst, "read");
  auto op = std::make_unique<Op>();
  op->id = id;
  op->is_read = true;
  op->buf = dst;
  {
    std::lock_guard<std::mutex> lock(mu_);
    BlobState& b = blobs_[id];
    STRATA_CHECK(!b.write_in_flight, blob_name(id) + ": read while a write of this blob is in flight; wait for it first");
    STRATA_CHECK(b.written, blob_name(id) + ": read of a blob that was never written " + where_ +
                                " (the offload tier must be filled before layers are streamed from it)");
    op->verify = verify_ == VerifyPolicy::Always || (verify_ == VerifyPolicy::First && !b.verify_claimed);
    if (verify_ == VerifyPolicy::First) b.verify_claimed = true;
    op->expected = b.checksum;
    b.reads_in_flight++;
  }
  return submit(std::move(op));
}

const void* AsyncTier::map(int id) {
  const void* p = address_of(id);
  if (!p) return nullptr;
  STRATA_CHECK(id >= 0 && id < n_blobs_, "map: blob id " + std::to_string(id) + " out of range");
  bool verify;
  uint64_t expected;
  {
    std::lock_guard<std::mutex> lock(mu_);
    BlobState& b = blobs_[id];
    STRATA_CHECK(!b.write_in_flight, blob_name(id) + ": mapped while a write of this blob is in flight");
    STRATA_CHECK(b.written, blob_name(id) + ": mapped before it was ever written " + where_);
    verify = verify_ == VerifyPolicy::Always || (verify_ == VerifyPolicy::First && !b.verify_claimed);
    if (verify_ == VerifyPolicy::First) b.verify_claimed = true;
    expected = b.checksum;
    stats_.reads++;
    stats_.bytes_read += blob_bytes_;
  }
  if (verify && XXH3_64bits(p, blob_bytes_) != expected)
    STRATA_USER_FAIL(blob_name(id) + ": checksum mismatch " + where_ + " at byte offset " +
                     std::to_string(offset_of(id)) + " (blob of " + std::to_string(blob_bytes_) + " bytes); " +
                     remedy_);
  return p;
}

Ticket AsyncTier::submit(std::unique_ptr<Op> op) {
  Op* raw = op.get();
  {
    std::lock_guard<std::mutex> lock(mu_);
    raw->ticket = next_ticket_++;
    raw->submitted = std::chrono::steady_clock::now();
    ops_.emplace(raw->ticket, std::move(op));
    in_flight_++;
  }
  try {
    start_io(*raw);
  } catch (...) {
    std::lock_guard<std::mutex> lock(mu_);
    BlobState& b = blobs_[raw->id];
    if (raw->is_read) {
      b.reads_in_flight--;
    } else {
      b.write_in_flight = false;  // the blob's contents are unknown now: written stays false
    }
    in_flight_--;
    ops_.erase(raw->ticket);
    cv_.notify_all();
    throw;
  }
  return raw->ticket;
}

void AsyncTier::finish_io(Op& op, const std::string& error) {
  std::string err = error;
  if (err.empty() && op.is_read && op.verify) {
    const uint64_t got = XXH3_64bits(op.buf, blob_bytes_);  // outside the lock
    if (got != op.expected) {
      err = blob_name(op.id) + ": checksum mismatch " + where_ + " at byte offset " + std::to_string(offset_of(op.id)) +
            " (blob of " + std::to_string(blob_bytes_) + " bytes); " + remedy_;
    }
  }
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(mu_);
  BlobState& b = blobs_[op.id];
  if (op.is_read) {
    b.reads_in_flight--;
    if (err.empty()) {
      stats_.reads++;
      stats_.bytes_read += blob_bytes_;
    }
    stats_.read_busy_seconds += std::chrono::duration<double>(now - op.submitted).count();
  } else {
    b.write_in_flight = false;
    b.written = err.empty();
    if (err.empty()) {
      stats_.writes++;
      stats_.bytes_written += blob_bytes_;
    }
  }
  op.error = std::move(err);
  op.done = true;
  in_flight_--;
  cv_.notify_all();
}

bool AsyncTier::poll(Ticket t) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = ops_.find(t);
  STRATA_CHECK(it != ops_.end(), "tier store " + name() + ": poll of ticket " + std::to_string(t) +
                                     ", which is not outstanding (never issued, or already waited for)");
  return it->second->done;
}

void AsyncTier::wait(Ticket t) {
  std::string error;
  {
    std::unique_lock<std::mutex> lock(mu_);
    auto it = ops_.find(t);
    STRATA_CHECK(it != ops_.end(), "tier store " + name() + ": wait for ticket " + std::to_string(t) +
                                       ", which is not outstanding (never issued, or already waited for)");
    Op* op = it->second.get();
    cv_.wait(lock, [op] { return op->done; });
    error = std::move(op->error);
    ops_.erase(t);  // not `it`: other threads may have inserted (and rehashed) while we waited
  }
  if (!error.empty()) STRATA_USER_FAIL(error);
}

void AsyncTier::wait_idle() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return in_flight_ == 0; });
}

TierStats AsyncTier::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace strata
