// fill_values: the benchmarks' deterministic pseudo-random tensor contents (splitmix64 of the element index), written
// in any storage dtype on all cores.
#include "bench/fill_values.h"

#include <algorithm>
#include <thread>
#include <vector>

#include "core/dtype_convert.h"

namespace strata::bench {

void fill_values_from(void* dst, DType dtype, int64_t n, bool ones, float std, uint64_t salt, int64_t first) {
  const int64_t threads = std::max(1u, std::thread::hardware_concurrency());
  const int64_t chunk = std::max<int64_t>(1 << 16, (n + threads - 1) / threads);
  const float half_width = std * 1.7320508f;  // uniform on [-a, a] has std a / sqrt(3)
  const size_t esize = dtype_size(dtype);
  std::vector<std::thread> pool;
  for (int64_t lo = 0; lo < n; lo += chunk) {
    const int64_t hi = std::min(n, lo + chunk);
    pool.emplace_back([=] {
      std::vector<float> buf(4096);
      for (int64_t i = lo; i < hi; i += (int64_t)buf.size()) {
        const int64_t m = std::min<int64_t>((int64_t)buf.size(), hi - i);
        for (int64_t k = 0; k < m; ++k) {
          if (ones) {
            buf[k] = 1.0f;
            continue;
          }
          uint64_t z = salt * 0x9E3779B97F4A7C15ull + (uint64_t)(first + i + k);  // splitmix64 of the element index
          z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
          z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
          z ^= z >> 31;
          buf[k] = ((float)(z >> 40) * (1.0f / 16777216.0f) * 2.0f - 1.0f) * half_width;
        }
        convert_from_f32(static_cast<char*>(dst) + (size_t)i * esize, buf.data(), dtype, (size_t)m);
      }
    });
  }
  for (auto& t : pool) t.join();
}

void fill_values(void* dst, DType dtype, int64_t n, bool ones, float std, uint64_t salt) {
  fill_values_from(dst, dtype, n, ones, std, salt, 0);
}

}  // namespace strata::bench
