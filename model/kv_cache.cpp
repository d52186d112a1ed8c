// KvCache: sizes and carves the per-layer key and value caches out of one device buffer (zeroed once, so the
// padding slot and unwritten positions hold finite values).
#include "model/kv_cache.h"

#include "core/check.h"

namespace strata {

namespace {
size_t layer_cache_bytes(const ModelConfig& cfg, int rows, int capacity, bool half) {
  return (size_t)rows * (capacity + 1) * cfg.kv_dim() * (half ? sizeof(bf16) : sizeof(float));
}
}  // namespace

size_t KvCache::bytes(const ModelConfig& cfg, int rows, int capacity, bool bf16) {
  return 2 * (size_t)cfg.n_layers * layer_cache_bytes(cfg, rows, capacity, bf16);
}

KvCache::KvCache(Backend& backend, const ModelConfig& cfg, int rows, int capacity, bool bf16)
    : rows_(rows), capacity_(capacity), bf16_(bf16), layer_bytes_(layer_cache_bytes(cfg, rows, capacity, bf16)) {
  STRATA_CHECK(rows > 0 && capacity > 0, "KV cache: rows and capacity must be > 0");
  buf_ = backend.alloc(MemoryKind::Device, bytes(cfg, rows, capacity, bf16), MemoryCategory::KvCache, 256);
  backend.fill_zero(buf_.data(), buf_.bytes());
}

void* KvCache::k(int layer) const { return buf_.as<char>() + (2 * (size_t)layer) * layer_bytes_; }
void* KvCache::v(int layer) const { return buf_.as<char>() + (2 * (size_t)layer + 1) * layer_bytes_; }

}  // namespace strata
