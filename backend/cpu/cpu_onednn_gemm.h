// OneDnnGemm: the CPU backend's bf16 GEMMs through oneDNN's matmul, which runs bf16 dot products on the CPU's bf16
// units (AVX512-BF16, AMX): bf16 operands (exact products), fp32 sums, an fp32 result written or added. Primitives
// are cached per shape; oneDNN's scratchpad comes from the caller (the backend's accounted scratch).
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <tuple>

#include "core/bf16.h"

namespace strata {

// C[M,N] (+)= A[M,K] @ B[K,N]. A is row-major with leading dimension lda, or (a_trans) A^T is: A[m,k] = a[k*lda+m];
// likewise B. C is row-major with leading dimension ldc; accumulate adds to it (fp32) instead of overwriting.
struct Bf16Gemm {
  int M = 0, N = 0, K = 0;
  bool a_trans = false, b_trans = false;
  int lda = 0, ldb = 0, ldc = 0;
  bool accumulate = false;
  auto key() const { return std::tie(M, N, K, a_trans, b_trans, lda, ldb, ldc, accumulate); }
  bool operator<(const Bf16Gemm& o) const { return key() < o.key(); }
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
  size_t scratchpad_bytes(const Bf16Gemm& g);
  // Runs `g` (blocking); `scratchpad` holds scratchpad_bytes(g).
  void run(const Bf16Gemm& g, const bf16* a, const bf16* b, float* c, void* scratchpad);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The scratchpad bytes oneDNN needs for `g` (the planner sizes the backend's scratch with it; no backend needed).
size_t onednn_scratchpad_bytes(const Bf16Gemm& g);

}  // namespace strata
