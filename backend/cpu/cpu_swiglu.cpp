// SwiGLU gate (silu(gate) * up) forward and backward on the CPU, elementwise and parallel.
// silu(g) = g * sigmoid(g); d silu/dg = s + g s (1 - s).
#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/cpu_vector_math.h"

namespace strata {

void CpuBackend::swiglu_forward(float* out, const float* gate, const float* up, size_t n) {
#pragma omp parallel for simd schedule(static) if (n >= kParallelMinWork)
  for (size_t i = 0; i < n; ++i) {
    const float g = gate[i];
    out[i] = g * sigmoid_vec(g) * up[i];
  }
}

void CpuBackend::swiglu_backward(float* dgate, float* dup, const float* dout, const float* gate, const float* up,
                                 size_t n) {
#pragma omp parallel for simd schedule(static) if (n >= kParallelMinWork)
  for (size_t i = 0; i < n; ++i) {
    const float g = gate[i];
    const float s = sigmoid_vec(g);
    const float silu = g * s;
    dgate[i] += dout[i] * up[i] * (s + g * s * (1.0f - s));
    dup[i] += dout[i] * silu;
  }
}

}  // namespace strata
