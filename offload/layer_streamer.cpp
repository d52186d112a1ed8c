// LayerStreamer implementation. Position j of a pass uses slot (j + base) % S (S = prefetch + 1); the read for
// position j + prefetch is issued when position j is acquired, i.e. after position j - 1 released that slot. A pass
// that starts with the block the previous pass ended with (forward ends at L-1, backward starts there; backward ends
// at 0, the next forward starts there) reuses that slot instead of reading the block again.
#include "offload/layer_streamer.h"

#include "core/check.h"

namespace strata {

using Clock = std::chrono::steady_clock;

LayerStreamer::LayerStreamer(Backend& backend, size_t blob_bytes, int prefetch, std::function<Location(int)> locate)
    : backend_(backend), blob_bytes_(blob_bytes), locate_(std::move(locate)), direct_(backend.caps().device_is_host) {
  STRATA_USER_CHECK(prefetch >= 1, "memory.prefetch must be >= 1, got " + std::to_string(prefetch));
  slots_.resize(prefetch + 1);
  for (Slot& s : slots_) {
    s.device = backend_.alloc(MemoryKind::Device, blob_bytes_, MemoryCategory::Streaming, 4096);
    if (!direct_) {
      s.staging = backend_.alloc(MemoryKind::HostPinned, blob_bytes_, MemoryCategory::Streaming, 4096);
      s.copied = backend_.create_event();
      s.consumed = backend_.create_event();
    }
  }
  if (!direct_) copy_stream_ = backend_.create_stream();
}

LayerStreamer::~LayerStreamer() {
  try {
    drain();
  } catch (...) {
    // destructor: errors of abandoned reads are not reported
  }
}

void LayerStreamer::drain() {
  for (Slot& s : slots_) {
    if (s.ticket) {
      s.tier->wait(s.ticket);
      s.ticket = 0;
    }
  }
  if (!direct_) backend_.stream_synchronize(copy_stream_);
}

void LayerStreamer::invalidate() {
  drain();
  for (Slot& s : slots_) s.ready = false, s.layer = -1, s.mapped = nullptr;
}

void LayerStreamer::begin_pass(const std::vector<int>& order) {
  STRATA_CHECK(cursor_ == order_.size(), "LayerStreamer: a new pass began before the previous one finished (" +
                                             std::to_string(cursor_) + " of " + std::to_string(order_.size()) +
                                             " blocks acquired)");
  // The slot of the previous pass's last block, if this pass starts with that block.
  int reuse = -1;
  if (!order_.empty() && !order.empty() && order_.back() == order.front()) {
    const size_t k = (order_.size() - 1 + base_) % slots_.size();
    if (slots_[k].ready && slots_[k].layer == order.front()) reuse = (int)k;
  }
  drain();
  for (size_t k = 0; k < slots_.size(); ++k)
    if ((int)k != reuse) slots_[k].ready = false;
  order_ = order;
  cursor_ = 0;
  next_issue_ = 0;
  base_ = reuse >= 0 ? (size_t)reuse : 0;
  if (reuse >= 0) next_issue_ = 1;  // position 0 is already in its slot
  for (size_t j = next_issue_; j < order_.size() && j < slots_.size() - 1; ++j) issue(j);
}

void LayerStreamer::issue(size_t pos) {
  Slot& s = slot_of(pos);
  s.ready = false;
  const int layer = order_[pos];
  const Location loc = locate_(layer);
  STRATA_CHECK(loc.tier, "block " + std::to_string(layer) + " is streamed but has no tier");
  TierStore* tier = loc.tier;
  // The staging buffer is refilled by the tier: its previous device copy must have finished reading it.
  if (!direct_ && s.layer >= 0) backend_.event_synchronize(s.copied);
  s.tier = tier;
  s.layer = layer;
  s.mapped = tier->map(loc.id);  // host tier: no copy on a host device, a direct DMA source otherwise
  s.ticket = s.mapped ? 0 : tier->read(loc.id, direct_ ? s.device.data() : s.staging.data());
  if (prof_ && prof_->enabled()) s.issued_us = prof_->now_us();
  s.copy_pending = !direct_;
  next_issue_ = pos + 1;
}

const void* LayerStreamer::acquire(int layer) {
  STRATA_CHECK(cursor_ < order_.size() && order_[cursor_] == layer,
               "LayerStreamer: block " + std::to_string(layer) + " acquired out of the announced order");
  // Keep `prefetch` reads in flight beyond this one.
  const size_t horizon = std::min(order_.size(), cursor_ + slots_.size());
  while (next_issue_ < horizon) issue(next_issue_);
  Slot& s = slot_of(cursor_);
  if (s.ticket) {
    const auto t0 = Clock::now();
    {
      Profiler::Scope span(prof_, "wait for block", "compute", layer);
      s.tier->wait(s.ticket);
    }
    stats_.io_wait_seconds += std::chrono::duration<double>(Clock::now() - t0).count();
    s.ticket = 0;
    if (prof_ && prof_->enabled())
      prof_->record(("read from " + s.tier->name()).c_str(), "io", layer, s.issued_us, prof_->now_us() - s.issued_us);
  }
  if (s.copy_pending) {
    backend_.stream_wait(copy_stream_, s.consumed);  // compute has finished reading the slot's previous block
    backend_.copy_async(s.device.data(), s.mapped ? s.mapped : s.staging.data(), blob_bytes_, copy_stream_);
    backend_.record(s.copied, copy_stream_);
    backend_.stream_wait(backend_.compute_stream(), s.copied);  // compute waits on an event, not on the host
    s.copy_pending = false;
  }
  s.ready = true;
  return direct_ && s.mapped ? s.mapped : s.device.data();
}

void LayerStreamer::release(int layer) {
  STRATA_CHECK(cursor_ < order_.size() && order_[cursor_] == layer,
               "LayerStreamer: block " + std::to_string(layer) + " released out of order");
  Slot& s = slot_of(cursor_);
  if (!direct_) backend_.record(s.consumed, backend_.compute_stream());
  ++cursor_;
}

}  // namespace strata
