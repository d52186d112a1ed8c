// Token embedding lookup and its gradient scatter on the CPU.
// The backward splits work by columns so each thread owns disjoint dtable entries: deterministic, atomic-free.
#include <cstring>

#include "backend/cpu/cpu_backend.h"

namespace strata {

void CpuBackend::embedding_forward(float* out, const int32_t* tokens, const float* table, int N, int C, int) {
#pragma omp parallel for schedule(static) if ((size_t)N * C >= kParallelMinWork)
  for (int n = 0; n < N; ++n) std::memcpy(out + (size_t)n * C, table + (size_t)tokens[n] * C, sizeof(float) * C);
}

void CpuBackend::embedding_backward(float* dtable, const float* dout, const int32_t* tokens, int N, int C, int) {
  constexpr int kCols = 64;
  const int nblocks = (C + kCols - 1) / kCols;
#pragma omp parallel for schedule(static) if ((size_t)N * C >= kParallelMinWork)
  for (int cb = 0; cb < nblocks; ++cb) {
    const int c0 = cb * kCols, c1 = c0 + kCols < C ? c0 + kCols : C;
    for (int n = 0; n < N; ++n) {
      float* dst = dtable + (size_t)tokens[n] * C;
      const float* src = dout + (size_t)n * C;
      for (int c = c0; c < c1; ++c) dst[c] += src[c];
    }
  }
}

}  // namespace strata
