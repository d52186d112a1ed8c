// LayerStreamer: the prefetcher. Implements BlockProvider over TierStores: for each pass it knows the order of the
// streamed blocks and keeps `prefetch` reads in flight ahead of compute through a ring of prefetch + 1 device slots
// (tier -> slot directly when device memory is host memory; tier -> pinned staging -> async copy otherwise).
#pragma once
#include <chrono>
#include <functional>
#include <vector>

#include "backend/backend.h"
#include "memory/profiler.h"
#include "model/block_provider.h"
#include "offload/tier_store.h"

namespace strata {

struct StreamerStats {
  double io_wait_seconds = 0;  // time compute stood waiting for a block
};

class LayerStreamer final : public BlockProvider {
 public:
  // Where a streamed block lives: its store and its blob id in that store.
  struct Location {
    TierStore* tier = nullptr;
    int id = -1;
  };
  LayerStreamer(Backend& backend, size_t blob_bytes, int prefetch, std::function<Location(int)> locate);
  ~LayerStreamer() override;

  void begin_pass(const std::vector<int>& order) override;
  const void* acquire(int layer) override;
  void release(int layer) override;
  // Waits for every outstanding read (before a block's tier copy is rewritten, or at shutdown).
  void drain();
  // Forgets what the slots hold (a block's tier copy changed): drains, and no slot is reused by the next pass.
  void invalidate();

  const StreamerStats& stats() const { return stats_; }
  void set_profiler(Profiler* p) { prof_ = p; }

 private:
  struct Slot {
    Buffer device;     // blob_bytes on the device (Streaming)
    Buffer staging;    // pinned host staging when device memory is not host memory
    Ticket ticket = 0; // outstanding tier read
    const void* mapped = nullptr;  // zero-copy: the tier's own host memory holds the block
    TierStore* tier = nullptr;
    int layer = -1;
    Event copied;      // device copy done (non-host devices)
    Event consumed;    // compute finished reading the slot
    bool copy_pending = false;
    bool ready = false;  // holds `layer` completely (read waited, device copy queued)
    double issued_us = 0;  // profiling: when the read was issued
  };
  void issue(size_t pos);

  Backend& backend_;
  size_t blob_bytes_;
  std::function<Location(int)> locate_;
  bool direct_;  // tier reads land in the device slot itself
  std::vector<Slot> slots_;
  Stream copy_stream_;
  std::vector<int> order_;
  size_t next_issue_ = 0;  // first position of order_ not yet issued
  size_t cursor_ = 0;      // position of the next acquire
  size_t base_ = 0;        // position p uses slot (p + base_) % slots
  Slot& slot_of(size_t pos) { return slots_[(pos + base_) % slots_.size()]; }
  StreamerStats stats_;
  Profiler* prof_ = nullptr;
};

}  // namespace strata
