// AdamWOptimizer implementation: per-tensor fused updates through Backend::adamw_update, state moves between the
// device and host tiers through the accounted allocator, and (de)serialisation of the moments for checkpoints.
#include "optim/adamw_optimizer.h"

#include <algorithm>

#include "core/check.h"

namespace strata {

AdamWOptimizer::AdamWOptimizer(Backend& backend, const ModelLayout& layout, const ModelLayout& master_layout,
                               AdamWHyper hyper)
    : backend_(backend),
      layout_(layout),
      hyper_(hyper),
      device_m_(backend, master_layout, MemoryKind::Device, MemoryCategory::OptimizerState),
      device_v_(backend, master_layout, MemoryKind::Device, MemoryCategory::OptimizerState),
      host_m_(backend, master_layout, MemoryKind::HostPinned, MemoryCategory::OptimizerState),
      host_v_(backend, master_layout, MemoryKind::HostPinned, MemoryCategory::OptimizerState),
      device_master_(backend, master_layout, MemoryKind::Device, MemoryCategory::MasterWeights),
      host_master_(backend, master_layout, MemoryKind::HostPinned, MemoryCategory::MasterWeights),
      steps_(BlobIds{layout.n_layers}.count(), 0) {
  STRATA_CHECK(layout.n_layers == master_layout.n_layers, "optimizer: working and master layouts disagree");
}

bool AdamWOptimizer::has_master(BlobId blob) const {
  for (const TensorSpec& t : layout_.of_blob(blob).tensors)
    if (t.dtype != DType::F32) return true;
  return false;
}

void AdamWOptimizer::activate(BlobId blob, const ParamStore& params) {
  if (is_active(blob) || device_m_.layout_of(blob).bytes == 0) return;
  device_m_.allocate(blob);
  device_v_.allocate(blob);
  if (has_master(blob)) device_master_.allocate(blob);
  if (is_parked(blob)) {
    const size_t bytes = device_m_.blob_bytes(blob);
    backend_.copy(device_m_.blob(blob), host_m_.blob(blob), bytes);
    backend_.copy(device_v_.blob(blob), host_v_.blob(blob), bytes);
    host_m_.release(blob);
    host_v_.release(blob);
    if (has_master(blob)) {
      backend_.copy(device_master_.blob(blob), host_master_.blob(blob), bytes);
      host_master_.release(blob);
    }
  } else {
    device_m_.zero(blob);
    device_v_.zero(blob);
    steps_[blob.value] = 0;
    if (has_master(blob)) {  // the master starts as the working copy (exact: bf16 -> fp32)
      device_master_.zero(blob);
      const BlobLayout& l = params.layout_of(blob);
      for (int i = 0; i < (int)l.tensors.size(); ++i)
        if (l.tensors[i].dtype == DType::BF16)
          backend_.convert_bf16_to_f32(device_master_.f32(blob, i), params.bf16s(blob, i),
                                       (size_t)l.tensors[i].numel());
    }
  }
}

void AdamWOptimizer::deactivate(BlobId blob, InactiveStatePolicy policy) {
  if (!is_active(blob)) return;
  if (policy == InactiveStatePolicy::Keep) {
    const size_t bytes = device_m_.blob_bytes(blob);
    host_m_.allocate(blob);
    host_v_.allocate(blob);
    backend_.copy(host_m_.blob(blob), device_m_.blob(blob), bytes);
    backend_.copy(host_v_.blob(blob), device_v_.blob(blob), bytes);
    if (has_master(blob)) {
      host_master_.allocate(blob);
      backend_.copy(host_master_.blob(blob), device_master_.blob(blob), bytes);
    }
  } else {
    steps_[blob.value] = 0;
  }
  device_m_.release(blob);
  device_v_.release(blob);
  device_master_.release(blob);
}

void AdamWOptimizer::update_blob(BlobId blob, ParamStore& params, const ParamStore& grads, float lr, float grad_scale) {
  STRATA_CHECK(grads.has(blob), "optimizer: " + params.blob_name(blob) + " has optimizer state but no gradient");
  const BlobLayout& layout = params.layout_of(blob);
  AdamWStep s;
  s.lr = lr;
  s.beta1 = hyper_.beta1;
  s.beta2 = hyper_.beta2;
  s.eps = hyper_.eps;
  s.grad_scale = grad_scale;
  s.step = ++steps_[blob.value];
  for (int i = 0; i < (int)layout.tensors.size(); ++i) {
    s.weight_decay = layout.tensors[i].shape.size() >= 2 ? hyper_.weight_decay : 0.0f;
    const size_t n = (size_t)layout.tensors[i].numel();
    if (layout.tensors[i].dtype == DType::BF16)
      backend_.adamw_update_bf16(device_master_.f32(blob, i), params.bf16s(blob, i), grads.bf16s(blob, i),
                                 device_m_.f32(blob, i), device_v_.f32(blob, i), n, s);
    else
      backend_.adamw_update(params.f32(blob, i), grads.f32(blob, i), device_m_.f32(blob, i), device_v_.f32(blob, i),
                            n, s);
  }
}

void AdamWOptimizer::step(ParamStore& params, const ParamStore& grads, float lr, float grad_scale) {
  for (BlobId blob : params.ids().all())
    if (is_active(blob)) update_blob(blob, params, grads, lr, grad_scale);
}

std::vector<TensorSource> AdamWOptimizer::state_tensors() const {
  std::vector<TensorSource> out;
  for (BlobId blob : device_m_.ids().all()) {
    const bool active = is_active(blob);
    if (!active && !is_parked(blob)) continue;
    const ParamStore& m = active ? device_m_ : host_m_;
    const ParamStore& v = active ? device_v_ : host_v_;
    const ParamStore& w = active ? device_master_ : host_master_;
    const size_t bytes = m.blob_bytes(blob);
    std::vector<std::pair<const char*, const ParamStore*>> parts{{"m.", &m}, {"v.", &v}};
    if (has_master(blob)) parts.push_back({"master.", &w});
    for (const auto& [prefix, store] : parts) {
      const void* src = store->blob(blob);
      out.push_back({prefix + to_string(blob), DType::F32, {(int64_t)(bytes / sizeof(float))},
                     [this, src, bytes](void* dst) { backend_.copy(dst, src, bytes); }});
    }
  }
  return out;
}

void AdamWOptimizer::load_state(const SafetensorsFile& file, const std::vector<BlobId>& active,
                                const std::vector<int64_t>& steps) {
  STRATA_USER_CHECK(steps.size() == steps_.size(), file.path() + ": optimizer step counts are for " +
                                                       std::to_string(steps.size()) + " blobs, the model has " +
                                                       std::to_string(steps_.size()));
  for (BlobId blob : device_m_.ids().all()) {
    const SafetensorsTensor* tm = file.find("m." + to_string(blob));
    const SafetensorsTensor* tv = file.find("v." + to_string(blob));
    if (!tm && !tv) continue;
    const size_t bytes = device_m_.blob_bytes(blob);
    STRATA_USER_CHECK(tm && tv && tm->dtype == DType::F32 && tv->dtype == DType::F32 && tm->end - tm->begin == bytes &&
                          tv->end - tv->begin == bytes,
                      file.path() + ": optimizer state of " + device_m_.blob_name(blob) +
                          " is incomplete or has the wrong size (expected m and v of " + std::to_string(bytes) +
                          " bytes)");
    const bool on_device = std::find(active.begin(), active.end(), blob) != active.end();
    ParamStore& m = on_device ? device_m_ : host_m_;
    ParamStore& v = on_device ? device_v_ : host_v_;
    m.allocate(blob);
    v.allocate(blob);
    backend_.copy(m.blob(blob), file.data(*tm), bytes);
    backend_.copy(v.blob(blob), file.data(*tv), bytes);
    if (has_master(blob)) {
      const SafetensorsTensor* tw = file.find("master." + to_string(blob));
      STRATA_USER_CHECK(tw && tw->dtype == DType::F32 && tw->end - tw->begin == bytes,
                        file.path() + ": the fp32 master weights of " + device_m_.blob_name(blob) +
                            " are missing or have the wrong size (expected " + std::to_string(bytes) + " bytes)");
      ParamStore& w = on_device ? device_master_ : host_master_;
      w.allocate(blob);
      backend_.copy(w.blob(blob), file.data(*tw), bytes);
    }
    steps_[blob.value] = steps[blob.value];
  }
}

}  // namespace strata
