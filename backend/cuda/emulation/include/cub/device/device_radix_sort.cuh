// CPU emulation of cub::DeviceRadixSort::SortPairs: a stable sort of (key, value) pairs by the key bits
// [begin_bit, end_bit) in radix order (signed keys with the sign bit flipped, as CUB orders them), queued on the
// stream. A call with d_temp_storage == nullptr only reports the (tiny) temporary storage it needs.
#pragma once
#include <algorithm>
#include <numeric>
#include <type_traits>
#include <vector>

#include "backend/cuda/emulation/include/cuda_runtime.h"

namespace strata::cuda_emu::cub {

struct DeviceRadixSort {
  template <class K, class V>
  static cudaError_t SortPairs(void* d_temp_storage, size_t& temp_storage_bytes, const K* keys_in, K* keys_out,
                               const V* values_in, V* values_out, int num_items, int begin_bit = 0,
                               int end_bit = sizeof(K) * 8, cudaStream_t stream = nullptr) {
    static_assert(std::is_integral_v<K> && sizeof(K) <= 8);
    if (d_temp_storage == nullptr) {
      temp_storage_bytes = 16;
      return cudaSuccess;
    }
    if (num_items < 0 || begin_bit < 0 || end_bit > (int)(sizeof(K) * 8) || begin_bit > end_bit)
      return cudaErrorInvalidValue;
    enqueue(stream, [=] {
      using U = std::make_unsigned_t<K>;
      auto radix = [&](K key) {
        U u = static_cast<U>(key);
        if constexpr (std::is_signed_v<K>) u ^= U(1) << (sizeof(K) * 8 - 1);
        const int bits = end_bit - begin_bit;
        const U mask = bits >= (int)(sizeof(U) * 8) ? ~U(0) : (U(1) << bits) - 1;
        return (u >> begin_bit) & mask;
      };
      std::vector<int> order(num_items);
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return radix(keys_in[a]) < radix(keys_in[b]); });
      std::vector<K> keys(num_items);
      std::vector<V> values(num_items);
      for (int i = 0; i < num_items; ++i) keys[i] = keys_in[order[i]], values[i] = values_in[order[i]];
      std::copy(keys.begin(), keys.end(), keys_out);
      std::copy(values.begin(), values.end(), values_out);
    });
    return cudaSuccess;
  }
};

}  // namespace strata::cuda_emu::cub
