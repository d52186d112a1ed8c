// Deterministic sum of squares for the CPU backend: fixed-size chunks reduced in parallel, chunk sums added in
// order, so the result does not depend on the thread count. `value(i)` reads element i as double.
#pragma once
#include <algorithm>
#include <cstddef>
#include <vector>

#include "engine/backend_cpu/cpu_backend.h"

namespace strata {

template <class Value>
double chunked_sum_squares(size_t n, Value value) {
  constexpr size_t kChunk = 1 << 14;
  const size_t nchunks = (n + kChunk - 1) / kChunk;
  std::vector<double> partial(nchunks, 0.0);
#pragma omp parallel for schedule(static) if (n >= kParallelMinWork)
  for (size_t c = 0; c < nchunks; ++c) {
    const size_t end = std::min(n, (c + 1) * kChunk);
    double acc = 0.0;
    for (size_t i = c * kChunk; i < end; ++i) {
      const double x = value(i);
      acc += x * x;
    }
    partial[c] = acc;
  }
  double total = 0.0;
  for (double p : partial) total += p;
  return total;
}

}  // namespace strata
