// AdamWOptimizer implementation: device placement runs fused per-tensor updates through Backend::adamw_update; host
// placement stages gradients in pinned memory and runs the same loop (backend/adamw_loop.h) on host threads.
#include "optim/adamw_optimizer.h"

#include <algorithm>
#include <cstring>

#include "backend/adamw_loop.h"
#include "core/check.h"
#include "core/dtype_convert.h"

namespace strata {

namespace {

MemoryKind state_kind(OptimizerPlacement where) {
  return where == OptimizerPlacement::Host ? MemoryKind::HostPinned : MemoryKind::Device;
}

}  // namespace

AdamWOptimizer::AdamWOptimizer(Backend& backend, const ModelLayout& layout, const ModelLayout& master_layout,
                               AdamWHyper hyper, OptimizerPlacement where)
    : backend_(backend),
      layout_(layout),
      hyper_(hyper),
      where_(where),
      m_(backend, master_layout, state_kind(where), MemoryCategory::OptimizerState),
      v_(backend, master_layout, state_kind(where), MemoryCategory::OptimizerState),
      master_(backend, master_layout, state_kind(where), MemoryCategory::MasterWeights),
      parked_m_(backend, master_layout, MemoryKind::HostPinned, MemoryCategory::OptimizerState),
      parked_v_(backend, master_layout, MemoryKind::HostPinned, MemoryCategory::OptimizerState),
      parked_master_(backend, master_layout, MemoryKind::HostPinned, MemoryCategory::MasterWeights),
      staging_(backend, layout, MemoryKind::HostPinned, MemoryCategory::Grads),
      active_(BlobIds{layout.n_layers}.count(), 0),
      staged_(BlobIds{layout.n_layers}.count(), 0),
      steps_(BlobIds{layout.n_layers}.count(), 0) {
  STRATA_CHECK(layout.n_layers == master_layout.n_layers, "optimizer: working and master layouts disagree");
  if (host() && !zero_copy()) {
    copy_stream_ = backend.create_stream();
    compute_done_ = backend.create_event();
    for (size_t i = 0; i < active_.size(); ++i) grad_copied_.push_back(backend.create_event());
  }
}

bool AdamWOptimizer::has_master(BlobId blob) const {
  if (host()) return true;
  for (const TensorSpec& t : layout_.of_blob(blob).tensors)
    if (t.dtype != DType::F32) return true;
  return false;
}

bool AdamWOptimizer::is_parked(BlobId blob) const {
  return host() ? m_.has(blob) && !is_active(blob) : parked_m_.has(blob);
}

void AdamWOptimizer::init_master(BlobId blob, const ParamStore& params) {
  const BlobLayout& l = params.layout_of(blob);
  if (!host()) {  // the master starts as the working copy (exact: bf16 -> fp32); F32 tensors have none
    master_.zero(blob);
    for (int i = 0; i < (int)l.tensors.size(); ++i)
      if (l.tensors[i].dtype == DType::BF16)
        backend_.convert_bf16_to_f32(master_.f32(blob, i), params.bf16s(blob, i), (size_t)l.tensors[i].numel());
    return;
  }
  // Host: the working copy comes off the device through the staging blob (read in place when the device is host
  // memory), then widens on the host.
  const ParamStore& from = zero_copy() ? params : staging_;
  if (!zero_copy()) backend_.copy(staging_.blob(blob), params.blob(blob), l.bytes);
  // Zeroed first: the blob's alignment padding goes into checkpoints with the state, and must not be whatever the
  // allocator's memory held (a checkpoint's bytes depend only on the run).
  std::memset(master_.blob(blob), 0, master_.blob_bytes(blob));
  for (int i = 0; i < (int)l.tensors.size(); ++i) {
    const size_t n = (size_t)l.tensors[i].numel();
    if (l.tensors[i].dtype == DType::BF16) convert_to_f32(master_.f32(blob, i), from.bf16s(blob, i), DType::BF16, n);
    else std::memcpy(master_.f32(blob, i), from.f32(blob, i), n * sizeof(float));
  }
}

void AdamWOptimizer::activate(BlobId blob, const ParamStore& params) {
  if (is_active(blob) || m_.layout_of(blob).bytes == 0) return;
  active_[blob.value] = 1;
  if (host()) {
    if (!zero_copy()) staging_.allocate(blob);
    if (m_.has(blob)) return;  // parked where it lives: nothing moves
    m_.allocate(blob);
    v_.allocate(blob);
    master_.allocate(blob);
    std::memset(m_.blob(blob), 0, m_.blob_bytes(blob));
    std::memset(v_.blob(blob), 0, v_.blob_bytes(blob));
    steps_[blob.value] = 0;
    init_master(blob, params);
    return;
  }
  m_.allocate(blob);
  v_.allocate(blob);
  if (has_master(blob)) master_.allocate(blob);
  if (parked_m_.has(blob)) {
    const size_t bytes = m_.blob_bytes(blob);
    backend_.copy(m_.blob(blob), parked_m_.blob(blob), bytes);
    backend_.copy(v_.blob(blob), parked_v_.blob(blob), bytes);
    parked_m_.release(blob);
    parked_v_.release(blob);
    if (has_master(blob)) {
      backend_.copy(master_.blob(blob), parked_master_.blob(blob), bytes);
      parked_master_.release(blob);
    }
  } else {
    m_.zero(blob);
    v_.zero(blob);
    steps_[blob.value] = 0;
    if (has_master(blob)) init_master(blob, params);
  }
}

void AdamWOptimizer::deactivate(BlobId blob, InactiveStatePolicy policy) {
  if (!is_active(blob)) return;
  active_[blob.value] = 0;
  if (host()) {
    staging_.release(blob);
    staged_[blob.value] = 0;
    if (policy == InactiveStatePolicy::Keep) return;  // parked where it is
    m_.release(blob);
    v_.release(blob);
    master_.release(blob);
    steps_[blob.value] = 0;
    return;
  }
  if (policy == InactiveStatePolicy::Keep) {
    const size_t bytes = m_.blob_bytes(blob);
    parked_m_.allocate(blob);
    parked_v_.allocate(blob);
    backend_.copy(parked_m_.blob(blob), m_.blob(blob), bytes);
    backend_.copy(parked_v_.blob(blob), v_.blob(blob), bytes);
    if (has_master(blob)) {
      parked_master_.allocate(blob);
      backend_.copy(parked_master_.blob(blob), master_.blob(blob), bytes);
    }
  } else {
    steps_[blob.value] = 0;
  }
  m_.release(blob);
  v_.release(blob);
  master_.release(blob);
}

AdamWStep AdamWOptimizer::step_args(BlobId blob, float lr, float grad_scale) {
  AdamWStep s;
  s.lr = lr;
  s.beta1 = hyper_.beta1;
  s.beta2 = hyper_.beta2;
  s.eps = hyper_.eps;
  s.grad_scale = grad_scale;
  s.step = ++steps_[blob.value];
  return s;
}

void AdamWOptimizer::update_blob(BlobId blob, ParamStore& params, const ParamStore& grads, float lr, float grad_scale) {
  STRATA_CHECK(grads.has(blob), "optimizer: " + params.blob_name(blob) + " has optimizer state but no gradient");
  const BlobLayout& layout = params.layout_of(blob);
  AdamWStep s = step_args(blob, lr, grad_scale);
  for (int i = 0; i < (int)layout.tensors.size(); ++i) {
    s.weight_decay = layout.tensors[i].shape.size() >= 2 ? hyper_.weight_decay : 0.0f;
    const size_t n = (size_t)layout.tensors[i].numel();
    if (layout.tensors[i].dtype == DType::BF16)
      backend_.adamw_update_bf16(master_.f32(blob, i), params.bf16s(blob, i), grads.bf16s(blob, i), m_.f32(blob, i),
                                 v_.f32(blob, i), n, s);
    else
      backend_.adamw_update(params.f32(blob, i), grads.f32(blob, i), m_.f32(blob, i), v_.f32(blob, i), n, s);
  }
}

void AdamWOptimizer::gradient_ready(BlobId blob, const ParamStore& grads) {
  if (!host() || zero_copy() || !is_active(blob) || staged_[blob.value]) return;
  STRATA_CHECK(grads.has(blob), "optimizer: " + grads.blob_name(blob) + " has optimizer state but no gradient");
  backend_.record(compute_done_, backend_.compute_stream());
  backend_.stream_wait(copy_stream_, compute_done_);
  backend_.copy_async(staging_.blob(blob), grads.blob(blob), grads.blob_bytes(blob), copy_stream_);
  backend_.record(grad_copied_[blob.value], copy_stream_);
  staged_[blob.value] = 1;
}

void AdamWOptimizer::discard_gradients() {
  if (!host() || zero_copy()) return;
  backend_.stream_synchronize(copy_stream_);
  std::fill(staged_.begin(), staged_.end(), 0);
}

// The gradient is read from `grads` and the new working weights written to `out`: with staging both are the staging
// blob (element j is read before it is written), which then holds what goes back to the device; in place on a
// device that is host memory, the device's gradient and weights themselves.
void AdamWOptimizer::update_blob_on_host(BlobId blob, const AdamWStep& base, const ParamStore& grads,
                                         const ParamStore& out) {
  const BlobLayout& layout = layout_.of_blob(blob);
  AdamWStep s = base;
  for (int i = 0; i < (int)layout.tensors.size(); ++i) {
    s.weight_decay = layout.tensors[i].shape.size() >= 2 ? hyper_.weight_decay : 0.0f;
    const size_t n = (size_t)layout.tensors[i].numel();
    float* master = master_.f32(blob, i);
    if (layout.tensors[i].dtype == DType::BF16) {
      const bf16* g = grads.bf16s(blob, i);
      bf16* w = out.bf16s(blob, i);
      adamw_loop(
          n, s, m_.f32(blob, i), v_.f32(blob, i), [g](size_t j) { return bf16_to_f32(g[j]); },
          [master](size_t j) { return master[j]; },
          [master, w](size_t j, float x) {
            master[j] = x;
            w[j] = f32_to_bf16(x);
          });
    } else {
      const float* g = grads.f32(blob, i);
      float* w = out.f32(blob, i);
      adamw_loop(
          n, s, m_.f32(blob, i), v_.f32(blob, i), [g](size_t j) { return g[j]; },
          [master](size_t j) { return master[j]; },
          [master, w](size_t j, float x) {
            master[j] = x;
            w[j] = x;
          });
    }
  }
}

void AdamWOptimizer::step(ParamStore& params, const ParamStore& grads, float lr, float grad_scale) {
  if (!host()) {
    for (BlobId blob : params.ids().all())
      if (is_active(blob)) update_blob(blob, params, grads, lr, grad_scale);
    return;
  }
  if (zero_copy()) {  // the device is host memory: read its gradients and write its weights in place
    backend_.synchronize();
    for (BlobId blob : params.ids().all())
      if (is_active(blob)) update_blob_on_host(blob, step_args(blob, lr, grad_scale), grads, params);
    return;
  }
  for (BlobId blob : params.ids().all()) gradient_ready(blob, grads);  // any not started during backward
  for (BlobId blob : params.ids().all()) {
    if (!is_active(blob)) continue;
    STRATA_CHECK(params.has(blob), "optimizer: " + params.blob_name(blob) + " is trained but not on the device");
    backend_.event_synchronize(grad_copied_[blob.value]);
    update_blob_on_host(blob, step_args(blob, lr, grad_scale), staging_, staging_);
    backend_.copy_async(params.blob(blob), staging_.blob(blob), params.blob_bytes(blob), copy_stream_);
    staged_[blob.value] = 0;
  }
  backend_.record(compute_done_, copy_stream_);
  backend_.stream_wait(backend_.compute_stream(), compute_done_);  // the next forward reads the new weights
}

std::vector<TensorSource> AdamWOptimizer::state_tensors() const {
  std::vector<TensorSource> out;
  for (BlobId blob : m_.ids().all()) {
    const bool live = m_.has(blob);
    if (!live && !parked_m_.has(blob)) continue;
    const ParamStore& m = live ? m_ : parked_m_;
    const ParamStore& v = live ? v_ : parked_v_;
    const ParamStore& w = live ? master_ : parked_master_;
    const size_t bytes = m.blob_bytes(blob);
    std::vector<std::pair<const char*, const ParamStore*>> parts{{"m.", &m}, {"v.", &v}};
    if (has_master(blob)) parts.push_back({"master.", &w});
    for (const auto& [prefix, store] : parts) {
      const void* src = store->blob(blob);
      TensorSource t{prefix + to_string(blob), DType::F32, {(int64_t)(bytes / sizeof(float))}, nullptr};
      t.fill_range = [this, src](void* dst, size_t offset, size_t n) {  // through the writer's bounded buffer
        backend_.copy(dst, static_cast<const char*>(src) + offset, n);
      };
      out.push_back(std::move(t));
    }
  }
  return out;
}

// A tensor of `file` into `dst` (never through a mapping of the file, whose pages would count as resident memory):
// straight in when the device is host memory, else through an 8 MiB host buffer.
void AdamWOptimizer::read_into(const SafetensorsFile& file, const SafetensorsTensor& t, void* dst, size_t bytes) {
  if (backend_.caps().device_is_host) {
    file.read(t, 0, dst, bytes);
    return;
  }
  constexpr size_t kPiece = size_t{8} << 20;
  if (!bounce_) bounce_ = backend_.alloc(MemoryKind::Host, kPiece, MemoryCategory::Streaming);
  for (size_t off = 0; off < bytes; off += kPiece) {
    const size_t n = std::min(kPiece, bytes - off);
    file.read(t, off, bounce_.data(), n);
    backend_.copy(static_cast<char*>(dst) + off, bounce_.data(), n);
  }
}

void AdamWOptimizer::load_state(const SafetensorsFile& file, const std::vector<BlobId>& active,
                                const std::vector<int64_t>& steps, const std::function<bool(BlobId)>& mine) {
  STRATA_USER_CHECK(steps.size() == steps_.size(), file.path() + ": optimizer step counts are for " +
                                                       std::to_string(steps.size()) + " blobs, the model has " +
                                                       std::to_string(steps_.size()));
  for (BlobId blob : m_.ids().all()) {
    const SafetensorsTensor* tm = file.find("m." + to_string(blob));
    const SafetensorsTensor* tv = file.find("v." + to_string(blob));
    if ((!tm && !tv) || (mine && !mine(blob))) continue;
    const size_t bytes = m_.blob_bytes(blob);
    STRATA_USER_CHECK(tm && tv && tm->dtype == DType::F32 && tv->dtype == DType::F32 && tm->end - tm->begin == bytes &&
                          tv->end - tv->begin == bytes,
                      file.path() + ": optimizer state of " + m_.blob_name(blob) +
                          " is incomplete or has the wrong size (expected m and v of " + std::to_string(bytes) +
                          " bytes)");
    const bool live = std::find(active.begin(), active.end(), blob) != active.end();
    // Device placement parks inactive state in its own stores; host placement keeps all of it in the live ones.
    const bool in_live_stores = live || host();
    ParamStore& m = in_live_stores ? m_ : parked_m_;
    ParamStore& v = in_live_stores ? v_ : parked_v_;
    m.allocate(blob);
    v.allocate(blob);
    read_into(file, *tm, m.blob(blob), bytes);
    read_into(file, *tv, v.blob(blob), bytes);
    if (has_master(blob)) {
      const SafetensorsTensor* tw = file.find("master." + to_string(blob));
      STRATA_USER_CHECK(tw && tw->dtype == DType::F32 && tw->end - tw->begin == bytes,
                        file.path() + ": the fp32 master weights of " + m_.blob_name(blob) +
                            " are missing or have the wrong size (expected " + std::to_string(bytes) + " bytes)");
      ParamStore& w = in_live_stores ? master_ : parked_master_;
      w.allocate(blob);
      read_into(file, *tw, w.blob(blob), bytes);
    }
    if (host() && live && !zero_copy()) staging_.allocate(blob);
    active_[blob.value] = live;
    steps_[blob.value] = steps[blob.value];
  }
  bounce_ = Buffer();
}

}  // namespace strata
