// The one AdamW loop of host code (AdamWStep semantics, backend.h): the CPU backend's update and the host-side
// optimizer both instantiate it, so their results are the same bits. Elementwise, hence the same for any thread count.
#pragma once
#include <cmath>
#include <cstddef>

#include "backend/backend.h"

namespace strata {

inline constexpr size_t kAdamWParallelMinWork = 1 << 15;  // fewer elements run on one thread

// AdamW over n elements; grad(i) reads the gradient as fp32, param(i) the parameter before the update, and
// store(i, p) writes the updated parameter p.
template <class Grad, class Param, class Store>
void adamw_loop(size_t n, const AdamWStep& s, float* m, float* v, Grad grad, Param param, Store store) {
  const float b1 = s.beta1, b2 = s.beta2;
  const float bc1 = 1.0f - (float)std::pow((double)b1, (double)s.step);
  const float bc2_sqrt = (float)std::sqrt(1.0 - std::pow((double)b2, (double)s.step));
  const float step_size = s.lr / bc1;
  const float decay = 1.0f - s.lr * s.weight_decay;
  const float grad_scale = s.grad_scale, eps = s.eps;  // locals: `s` could alias m or v, which blocks vectorising
#pragma omp parallel for simd schedule(static) if (n >= kAdamWParallelMinWork)
  for (size_t i = 0; i < n; ++i) {
    // Every multiply-add is an explicit fma (and sqrt and division are correctly rounded), so no compiler
    // contraction can change a bit: the CUDA kernel (cuda_optimizer.cu) spells the same operations.
    const float gi = grad(i) * grad_scale;
    const float mi = std::fma(1.0f - b1, gi, b1 * m[i]);
    const float vi = std::fma(1.0f - b2, gi * gi, b2 * v[i]);
    m[i] = mi;
    v[i] = vi;
    const float denom = std::sqrt(vi) / bc2_sqrt + eps;
    store(i, std::fma(-step_size, mi / denom, param(i) * decay));
  }
}

}  // namespace strata
