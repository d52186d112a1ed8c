// Elementwise CPU ops: residual add.
// Kept apart from the model ops so new elementwise kernels (scale, cast) have one home.
#include "backend/cpu/cpu_backend.h"

namespace strata {

void CpuBackend::add(float* out, const float* a, const float* b, size_t n) {
#pragma omp parallel for schedule(static) if (n >= kParallelMinWork)
  for (size_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

}  // namespace strata
