// BlockPlacement: "device" keeps every block resident; "host"/"disk" stream every frozen block from that tier;
// "auto" fills the device budget with resident blocks (after reserving room for the trained ones and the
// streaming slots), then the host budget, then spills the rest to disk.
#include "offload/block_placement.h"

#include <algorithm>
#include <cstdint>

#include "core/check.h"
#include "core/progress_line.h"
#include "offload/placement_policy.h"

namespace strata {

namespace {

size_t room(const MemoryTracker& m, MemoryKind k) {
  const size_t b = m.budget(k);
  if (b == MemoryTracker::kUnlimited) return MemoryTracker::kUnlimited;
  const size_t used = m.current(k);
  return b > used ? b - used : 0;
}

}  // namespace

BlockPlacement::BlockPlacement(Backend& backend, LlamaModel& model, const BlobSource& base,
                               const PlacementOptions& opts)
    : backend_(backend),
      model_(model),
      opts_(opts),
      tier_of_(model.config().n_layers, nullptr),
      tier_id_(model.config().n_layers, -1) {
  const int L = model.config().n_layers;
  const size_t blob = model.layout().block.bytes;
  const BlobIds ids = model.ids();

  // How many blocks go where (the rule the planner predicts with).
  const size_t dev_room = room(backend.memory(), MemoryKind::Device);
  const size_t host_room = room(backend.memory(), MemoryKind::HostPinned);
  // MemoryTracker::kUnlimited is SIZE_MAX, decide_placement's "no budget".
  static_assert(MemoryTracker::kUnlimited == SIZE_MAX);
  const PlacementCounts counts =
      decide_placement(opts.frozen_tier, L, blob, dev_room, host_room, opts.trained_blocks, opts.trained_bytes,
                       opts.prefetch);
  const int n_device = counts.device, n_host = counts.host;
  const int n_disk = L - n_device - n_host;
  // Blocks n_device.. go to the host tier, then the disk tier; tier blob id = position within its tier.
  if (n_host > 0)
    host_tier_ = make_host_tier(backend, n_host, blob, opts.verify,
                                [n_device](int id) { return "block " + std::to_string(n_device + id); });
  if (n_disk > 0) {
    STRATA_USER_CHECK(!opts.disk_path.empty(), "memory.disk_path: no file for the disk tier");
    const int first = n_device + n_host;
    disk_tier_ = make_disk_tier(opts.disk_path, n_disk, blob, opts.verify, opts.io, opts.warn,
                                [first](int id) { return "block " + std::to_string(first + id); });
  }

  // Resident blocks first (0..n_device-1), then host, then disk; base weights go straight to their home.
  ParamStore staging(backend, model.layout(), MemoryKind::Host, MemoryCategory::Streaming);
  ProgressLine progress("placing blocks", (size_t)L, (size_t)L * blob, opts.progress);
  for (int l = 0; l < L; ++l) {
    const BlobId b = ids.block(l);
    if (l < n_device) {
      base.load_blob(model.params(), b, backend);
    } else {
      tier_of_[l] = l < n_device + n_host ? host_tier_.get() : disk_tier_.get();
      tier_id_[l] = l < n_device + n_host ? l - n_device : l - n_device - n_host;
      base.load_blob(staging, b, backend);
      to_tier(l, *tier_of_[l], staging.blob(b));
      staging.release(b);
    }
    progress.advance(1, blob);
  }
  progress.finish();
  n_resident_ = n_device, n_host_ = n_host, n_disk_ = n_disk;
  if (n_device < L) {
    streamer_ = std::make_unique<LayerStreamer>(backend, blob, opts.prefetch, [this](int l) {
      return LayerStreamer::Location{tier_of_[l], tier_id_[l]};
    });
    model.set_block_provider(streamer_.get());
  }
}

BlockPlacement::~BlockPlacement() {
  model_.set_block_provider(nullptr);
  streamer_.reset();
}

void BlockPlacement::to_tier(int layer, TierStore& tier, const void* src) {
  tier.wait(tier.write(tier_id_[layer], src));
}

void BlockPlacement::set_profiler(Profiler* p) {
  prof_ = p;
  if (streamer_) streamer_->set_profiler(p);
}

void BlockPlacement::promote(int layer) {
  if (!streamed(layer) || model_.block_resident(layer)) return;
  Profiler::Scope span(prof_, "promote (tier -> device)", "io", layer);
  if (streamer_) streamer_->invalidate();
  const BlobId b = model_.ids().block(layer);
  model_.params().allocate(b);
  if (backend_.caps().device_is_host) {
    tier_of_[layer]->wait(tier_of_[layer]->read(tier_id_[layer], model_.params().blob(b)));
  } else {
    Buffer host = backend_.alloc(MemoryKind::HostPinned, model_.layout().block.bytes, MemoryCategory::Streaming);
    tier_of_[layer]->wait(tier_of_[layer]->read(tier_id_[layer], host.data()));
    backend_.copy(model_.params().blob(b), host.data(), host.bytes());
  }
}

void BlockPlacement::demote(int layer) {
  if (!streamed(layer) || !model_.block_resident(layer)) return;
  Profiler::Scope span(prof_, "write back (device -> tier)", "io", layer);
  if (streamer_) streamer_->invalidate();
  const BlobId b = model_.ids().block(layer);
  if (backend_.caps().device_is_host) {
    to_tier(layer, *tier_of_[layer], model_.params().blob(b));
  } else {
    Buffer host = backend_.alloc(MemoryKind::HostPinned, model_.layout().block.bytes, MemoryCategory::Streaming);
    backend_.copy(host.data(), model_.params().blob(b), host.bytes());
    to_tier(layer, *tier_of_[layer], host.data());
  }
  model_.params().release(b);
}

void BlockPlacement::read_block(int layer, void* host) {
  const BlobId b = model_.ids().block(layer);
  if (model_.block_resident(layer)) {
    backend_.copy(host, model_.params().blob(b), model_.layout().block.bytes);
    return;
  }
  if (streamer_) streamer_->invalidate();
  tier_of_[layer]->wait(tier_of_[layer]->read(tier_id_[layer], host));
}

void BlockPlacement::write_block(int layer, const void* host) {
  const BlobId b = model_.ids().block(layer);
  if (model_.block_resident(layer)) {
    backend_.copy(model_.params().blob(b), host, model_.layout().block.bytes);
    return;
  }
  if (streamer_) streamer_->invalidate();
  to_tier(layer, *tier_of_[layer], host);
}

std::string BlockPlacement::describe() const {
  std::string s = "blocks: " + std::to_string(n_resident_) + " resident";
  if (host_tier_) s += ", " + std::to_string(n_host_) + " in " + host_tier_->name();
  if (disk_tier_) s += ", " + std::to_string(n_disk_) + " in " + disk_tier_->name();
  if (streamer_) s += " (prefetch " + std::to_string(opts_.prefetch) + ")";
  return s;
}

PlacementStats BlockPlacement::stats() const {
  PlacementStats s;
  if (host_tier_) s.host = host_tier_->stats();
  if (disk_tier_) s.disk = disk_tier_->stats();
  if (streamer_) s.streamer = streamer_->stats();
  return s;
}

}  // namespace strata
