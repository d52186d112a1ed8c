// CPU emulation of the nvcuda::wmma subset used (16x16x16 bf16 tiles, fp32 accumulators). Each lane holds the whole
// tile (the emulation need not split it the way a real fragment layout does, and no kernel indexes fragments), so
// loads, stores and mma are exact: bf16 products are exact in fp32 and summed in fp32 in k order. Every *_sync call
// is warp-collective: the warp meets before and after it, so a store never overtakes another lane's load.
#pragma once
#include <cstddef>

#include "backend/cuda/emulation/include/cuda_bf16.h"

namespace strata::cuda_emu::nvcuda::wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

template <class Use, int M, int N, int K, class T, class Layout = void>
struct fragment {
  static constexpr int kRows = std::is_same_v<Use, matrix_b> ? K : M;
  static constexpr int kCols = std::is_same_v<Use, matrix_a> ? K : N;
  static constexpr int num_elements = kRows * kCols;
  T x[num_elements];  // row-major [kRows][kCols]
};

namespace detail {
inline float to_f32(float v) {
  return v;
}
inline float to_f32(__nv_bfloat16 v) {
  return __bfloat162float(v);
}
template <class T>
T from_f32(float v);
template <>
inline float from_f32<float>(float v) {
  return v;
}
}  // namespace detail

template <class Use, int M, int N, int K, class T, class L>
void fill_fragment(fragment<Use, M, N, K, T, L>& f, const T& v) {
  warp_barrier();
  for (T& e : f.x) e = v;
  warp_barrier();
}

// Operand tiles: the layout is the fragment's (row_major: element (r, c) at p[r * ldm + c]; col_major: p[c * ldm + r]).
template <class Use, int M, int N, int K, class T, class L>
void load_matrix_sync(fragment<Use, M, N, K, T, L>& f, const T* p, unsigned ldm) {
  using F = fragment<Use, M, N, K, T, L>;
  warp_barrier();
  for (int r = 0; r < F::kRows; ++r)
    for (int c = 0; c < F::kCols; ++c)
      f.x[r * F::kCols + c] = std::is_same_v<L, col_major> ? p[(size_t)c * ldm + r] : p[(size_t)r * ldm + c];
  warp_barrier();
}

// Accumulator tiles: the layout is given at the call.
template <int M, int N, int K>
void load_matrix_sync(fragment<accumulator, M, N, K, float>& f, const float* p, unsigned ldm, layout_t layout) {
  warp_barrier();
  for (int r = 0; r < M; ++r)
    for (int c = 0; c < N; ++c)
      f.x[r * N + c] = layout == mem_col_major ? p[(size_t)c * ldm + r] : p[(size_t)r * ldm + c];
  warp_barrier();
}
template <int M, int N, int K>
void store_matrix_sync(float* p, const fragment<accumulator, M, N, K, float>& f, unsigned ldm, layout_t layout) {
  warp_barrier();
  for (int r = 0; r < M; ++r)
    for (int c = 0; c < N; ++c)
      (layout == mem_col_major ? p[(size_t)c * ldm + r] : p[(size_t)r * ldm + c]) = f.x[r * N + c];
  warp_barrier();
}

// d = a b + c (d may be c). The first lane of the warp to arrive computes the product (operands widened once, fp32
// sums in k order); the others take its result, which is theirs too since every lane holds the same fragments.
template <int M, int N, int K, class T, class LA, class LB>
void mma_sync(fragment<accumulator, M, N, K, float>& d, const fragment<matrix_a, M, N, K, T, LA>& a,
              const fragment<matrix_b, M, N, K, T, LB>& b, const fragment<accumulator, M, N, K, float>& c) {
  static_assert(M * N <= 256, "the warp's result buffer holds 256 floats");
  warp_barrier();
  bool first = false;
  float* out = warp_collective_result(&first);
  if (first) {
    float a32[M * K], b32[K * N];
    for (int e = 0; e < M * K; ++e) a32[e] = detail::to_f32(a.x[e]);
    for (int e = 0; e < K * N; ++e) b32[e] = detail::to_f32(b.x[e]);
    for (int i = 0; i < M; ++i)
      for (int j = 0; j < N; ++j) {
        float s = c.x[i * N + j];
        for (int k = 0; k < K; ++k) s += a32[i * K + k] * b32[k * N + j];
        out[i * N + j] = s;
      }
  }
  for (int e = 0; e < M * N; ++e) d.x[e] = out[e];
  warp_barrier();
}

}  // namespace strata::cuda_emu::nvcuda::wmma
