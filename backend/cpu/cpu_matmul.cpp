// Linear layer (x @ W^T, HF nn.Linear layout) forward and backward in fp32 on oneDNN's matmul (its brgemm kernels
// run these shapes 5-20% faster than OpenBLAS sgemm here: bench/bench_bf16_gemm). Deterministic per thread count.
#include "backend/cpu/cpu_backend.h"

#include <algorithm>

namespace strata {

namespace {

GemmDesc fwd_gemm(int N, int IC, int OC) { return {N, OC, IC, false, true, IC, IC, OC, false, true}; }  // x @ w^T
GemmDesc dx_gemm(int N, int IC, int OC) { return {N, IC, OC, false, false, OC, IC, IC, true, true}; }   // += dout @ w
GemmDesc dw_gemm(int N, int IC, int OC) { return {OC, IC, N, true, false, OC, IC, IC, true, true}; }    // += dout^T @ x

}  // namespace

size_t f32_linear_scratch_bytes(size_t N, size_t IC, size_t OC) {
  const int n = (int)N, ic = (int)IC, oc = (int)OC;
  return op_scratch_granules(std::max({onednn_scratchpad_bytes(fwd_gemm(n, ic, oc)),
                                       onednn_scratchpad_bytes(dx_gemm(n, ic, oc)),
                                       onednn_scratchpad_bytes(dw_gemm(n, ic, oc))}));
}

// oneDNN's scratchpad for `d`, from the op scratch.
void* CpuBackend::pad_for(const GemmDesc& d) {
  return op_scratch((onednn().scratchpad_bytes(d) + sizeof(float) - 1) / sizeof(float));
}

void CpuBackend::linear_forward(float* out, const float* x, const float* w, int N, int IC, int OC) {
  // out[N,OC] = x[N,IC] @ w[OC,IC]^T
  OneDnnGemm& g = onednn();
  const GemmDesc d = fwd_gemm(N, IC, OC);
  g.run(d, x, w, out, pad_for(d));
}

void CpuBackend::linear_backward(float* dx, float* dw, const float* dout, const float* x, const float* w, int N,
                                 int IC, int OC) {
  OneDnnGemm& g = onednn();
  if (dx) {  // dx[N,IC] += dout[N,OC] @ w[OC,IC]
    const GemmDesc d = dx_gemm(N, IC, OC);
    g.run(d, dout, w, dx, pad_for(d));
  }
  if (dw) {  // dw[OC,IC] += dout[N,OC]^T @ x[N,IC]
    const GemmDesc d = dw_gemm(N, IC, OC);
    g.run(d, dout, x, dw, pad_for(d));
  }
}

}  // namespace strata
