// OneDnnGemm: the CPU backend's matmuls through oneDNN (linear layers, and the bf16 attention's batched products):
// bf16 operands on the CPU's bf16 units (AVX512-BF16, AMX; exact products, fp32 sums) or fp32 operands (its brgemm
// kernels, ahead of OpenBLAS sgemm on these shapes), an fp32 result written or added. Primitives are cached per
// shape; matmuls under 16 MFLOP run on the calling thread alone; oneDNN's scratchpad comes from the caller (the
// backend's accounted scratch).
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

namespace strata {

// C[M,N] (+)= A[M,K] @ B[K,N]. A is row-major with leading dimension lda, or (a_trans) A^T is: A[m,k] = a[k*lda+m];
// likewise B. C is row-major with leading dimension ldc; accumulate adds to it (fp32) instead of overwriting.
// A and B hold bf16 values, or fp32 ones when f32.
struct GemmDesc {
  int M = 0, N = 0, K = 0;
  bool a_trans = false, b_trans = false;
  int lda = 0, ldb = 0, ldc = 0;
  bool accumulate = false;
  bool f32 = false;
  auto key() const { return std::tie(M, N, K, a_trans, b_trans, lda, ldb, ldc, accumulate, f32); }
  bool operator<(const GemmDesc& o) const { return key() < o.key(); }
};

// A batched bf16 matmul over strided views: C[..., M, N] (+)= alpha * A[..., M, K] @ B[..., K, N], where every
// operand has the same number of dims (3 to 5), the leading ones batch dims (an operand's batch dim may be 1: it is
// broadcast), and any element strides. A and B hold bf16 values, C fp32. alpha scales the product, not C.
struct BatchedGemmDesc {
  std::vector<int64_t> a_dims, a_strides, b_dims, b_strides, c_dims, c_strides;
  bool accumulate = false;
  float alpha = 1.0f;
  auto key() const { return std::tie(a_dims, a_strides, b_dims, b_strides, c_dims, c_strides, accumulate, alpha); }
  bool operator<(const BatchedGemmDesc& o) const { return key() < o.key(); }
};

class OneDnnGemm {
 public:
  // True when oneDNN runs bf16 GEMMs on bf16 hardware here (its CPU ISA is avx512_core_bf16 or newer); elsewhere it
  // would emulate them, and the backend keeps widening to fp32 for sgemm instead.
  static bool native();
  OneDnnGemm();
  ~OneDnnGemm();
  OneDnnGemm(const OneDnnGemm&) = delete;
  OneDnnGemm& operator=(const OneDnnGemm&) = delete;

  // The scratchpad bytes the primitive for `g` needs (creating and caching it).
  size_t scratchpad_bytes(const GemmDesc& g);
  // Runs `g` (blocking); a and b hold bf16 (or, g.f32, fp32) values; `scratchpad` holds scratchpad_bytes(g).
  void run(const GemmDesc& g, const void* a, const void* b, float* c, void* scratchpad);
  // The same for batched matmuls (cached per descriptor).
  size_t scratchpad_bytes(const BatchedGemmDesc& g);
  void run(const BatchedGemmDesc& g, const void* a, const void* b, float* c, void* scratchpad);
  // oneDNN's name of the implementation that runs `g` (e.g. "brg:avx512_core_bf16"), for tests and benchmarks.
  std::string implementation(const BatchedGemmDesc& g);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The scratchpad bytes oneDNN needs for `g` (the planner sizes the backend's scratch with it; no backend needed).
size_t onednn_scratchpad_bytes(const GemmDesc& g);
size_t onednn_scratchpad_bytes(const BatchedGemmDesc& g);

}  // namespace strata
