// KvCache: the keys and values of every layer for `rows` sequences of up to `capacity` positions each (bf16 or fp32,
// as the model's weights), in one accounted device buffer, plus one spare position per row for padding slots.
#pragma once
#include <cstddef>

#include "backend/backend.h"
#include "model/model_config.h"

namespace strata {

class KvCache {
 public:
  KvCache(Backend& backend, const ModelConfig& cfg, int rows, int capacity, bool bf16);
  // Bytes of the one buffer: 2 (k, v) * layers * rows * (capacity + 1) * kv_dim * element size.
  static size_t bytes(const ModelConfig& cfg, int rows, int capacity, bool bf16);

  int rows() const { return rows_; }
  int capacity() const { return capacity_; }   // usable positions per row
  int stride() const { return capacity_ + 1; }  // positions per row in memory; the last one is the padding slot
  int padding_position() const { return capacity_; }
  bool bf16() const { return bf16_; }
  // Layer l's caches, each [rows, stride(), NKV, HS].
  void* k(int layer) const;
  void* v(int layer) const;

 private:
  int rows_, capacity_;
  bool bf16_;
  size_t layer_bytes_;  // one of k or v of one layer
  Buffer buf_;          // Device / KvCache: [L][k|v][rows, stride, NKV, HS]
};

}  // namespace strata
