// The CPU backend's bf16-storage linear, embedding and conversion ops: bf16 operands are widened (exactly) or rounded
// into fp32 scratch (weights a slice of rows at a time), then sgemm runs on them (AdamW and sum of squares are in cpu_optimizer.cpp).
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "backend/cpu/cpu_backend.h"
#include "core/dtype_convert.h"

namespace strata {

namespace {

// dst[n] = float(bf16(src[n])): rounds fp32 values to the nearest bf16 value, kept in fp32.
void round_to_bf16_values(float* dst, const float* src, size_t n) {
#pragma omp parallel for schedule(static) if (n >= kParallelMinWork)
  for (size_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(f32_to_bf16(src[i]));
}

void widen(float* dst, const bf16* src, size_t n) {
#pragma omp parallel for schedule(static) if (n >= kParallelMinWork)
  for (size_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(src[i]);
}

void narrow(bf16* dst, const float* src, size_t n) {
#pragma omp parallel for schedule(static) if (n >= kParallelMinWork)
  for (size_t i = 0; i < n; ++i) dst[i] = f32_to_bf16(src[i]);
}

}  // namespace

float* CpuBackend::bf16_scratch(size_t floats) {
  const size_t bytes = std::max<size_t>(floats * sizeof(float), 1);
  if (!bf16_scratch_ || bf16_scratch_.bytes() < bytes) {
    bf16_scratch_ = Buffer();  // the old one goes first: the peak is the new size alone
    const size_t granules = (bytes + kBf16ScratchGranule - 1) / kBf16ScratchGranule;
    bf16_scratch_ = alloc(MemoryKind::Device, granules * kBf16ScratchGranule, MemoryCategory::Workspace);
  }
  return bf16_scratch_.as<float>();
}

// The weight is widened a slice of S output rows at a time (bf16_weight_slice_rows): out[:, o0:o0+S] from slice
// o0, dx summed over the slices in order, and each slice of dw widened, accumulated and rounded once.
void CpuBackend::linear_forward_bf16(float* out, const float* x, const bf16* w, int N, int IC, int OC) {
  const size_t nx = (size_t)N * IC, S = bf16_weight_slice_rows(IC, OC);
  float* xr = bf16_scratch(nx + S * IC);  // xr[N,IC] | wf[S,IC]
  float* wf = xr + nx;
  round_to_bf16_values(xr, x, nx);
  for (size_t o0 = 0; o0 < (size_t)OC; o0 += S) {
    const size_t rows = std::min(S, (size_t)OC - o0);
    widen(wf, w + o0 * IC, rows * IC);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, (int)rows, IC, 1.0f, xr, IC, wf, IC, 0.0f, out + o0, OC);
  }
}

void CpuBackend::linear_backward_bf16(float* dx, bf16* dw, const float* dout, const float* x, const bf16* w, int N,
                                      int IC, int OC) {
  if (!dx && !dw) return;
  const size_t nd = (size_t)N * OC, nx = (size_t)N * IC, S = bf16_weight_slice_rows(IC, OC);
  float* dr = bf16_scratch(nd + nx + S * IC);  // dr[N,OC] | xr[N,IC] | wf[S,IC] (a weight slice, then a gradient's)
  float* xr = dr + nd;
  float* wf = xr + nx;
  round_to_bf16_values(dr, dout, nd);
  if (dx)  // dx[N,IC] += dr[:, o0:o0+rows] @ wf[rows,IC], slice by slice
    for (size_t o0 = 0; o0 < (size_t)OC; o0 += S) {
      const size_t rows = std::min(S, (size_t)OC - o0);
      widen(wf, w + o0 * IC, rows * IC);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, IC, (int)rows, 1.0f, dr + o0, OC, wf, IC, 1.0f, dx,
                  IC);
    }
  if (dw) {  // dw[o0:o0+rows, :] = bf16(dw + dr[:, o0:o0+rows]^T @ xr)
    round_to_bf16_values(xr, x, nx);
    for (size_t o0 = 0; o0 < (size_t)OC; o0 += S) {
      const size_t rows = std::min(S, (size_t)OC - o0);
      widen(wf, dw + o0 * IC, rows * IC);
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)rows, IC, N, 1.0f, dr + o0, OC, xr, IC, 1.0f, wf, IC);
      narrow(dw + o0 * IC, wf, rows * IC);
    }
  }
}

void CpuBackend::embedding_forward_bf16(float* out, const int32_t* tokens, const bf16* table, int N, int C, int) {
#pragma omp parallel for schedule(static) if ((size_t)N * C >= kParallelMinWork)
  for (int n = 0; n < N; ++n) widen(out + (size_t)n * C, table + (size_t)tokens[n] * C, (size_t)C);
}

void CpuBackend::embedding_backward_bf16(bf16* dtable, const float* dout, const int32_t* tokens, int N, int C,
                                         int V) {
  // The touched rows, widened once, accumulated in fp32 in order of n (by column blocks, as the fp32 op), then
  // rounded once. slot[v] is the row's index in the compact fp32 buffer, -1 when v does not occur.
  std::vector<int> slot((size_t)V, -1);
  std::vector<int32_t> rows;
  for (int n = 0; n < N; ++n)
    if (slot[tokens[n]] < 0) {
      slot[tokens[n]] = (int)rows.size();
      rows.push_back(tokens[n]);
    }
  const size_t R = rows.size();
  float* acc = bf16_scratch(R * C);  // acc[R,C]
  for (size_t r = 0; r < R; ++r) widen(acc + r * C, dtable + (size_t)rows[r] * C, (size_t)C);
  std::vector<int32_t> compact(N);
  for (int n = 0; n < N; ++n) compact[n] = slot[tokens[n]];
  embedding_backward(acc, dout, compact.data(), N, C, (int)R);
  for (size_t r = 0; r < R; ++r) narrow(dtable + (size_t)rows[r] * C, acc + r * C, (size_t)C);
}

void CpuBackend::convert_f32_to_bf16(bf16* dst, const float* src, size_t n) { narrow(dst, src, n); }
void CpuBackend::convert_bf16_to_f32(float* dst, const bf16* src, size_t n) { widen(dst, src, n); }

}  // namespace strata
