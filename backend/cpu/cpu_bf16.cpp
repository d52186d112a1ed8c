// The CPU backend's bf16-storage linear, embedding and conversion ops. Linears run on oneDNN's bf16 GEMMs where the
// CPU has bf16 units; elsewhere (and on the ref backend) bf16 operands are widened (exactly) or rounded into fp32
// scratch (weights a slice of rows at a time) for sgemm (AdamW and sum of squares are in cpu_optimizer.cpp).
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
#pragma omp parallel for simd schedule(static) if (n >= kParallelMinWork)
  for (size_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(f32_to_bf16(src[i]));
}

void widen(float* dst, const bf16* src, size_t n) {
#pragma omp parallel for simd schedule(static) if (n >= kParallelMinWork)
  for (size_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(src[i]);
}

void narrow(bf16* dst, const float* src, size_t n) {
#pragma omp parallel for simd schedule(static) if (n >= kParallelMinWork)
  for (size_t i = 0; i < n; ++i) dst[i] = f32_to_bf16(src[i]);
}

}  // namespace

float* CpuBackend::op_scratch(size_t floats) {
  const size_t bytes = op_scratch_granules(floats * sizeof(float));
  if (!op_scratch_ || op_scratch_.bytes() < bytes) {
    op_scratch_ = Buffer();  // the old one goes first: the peak is the new size alone
    op_scratch_ = alloc(MemoryKind::Device, bytes, MemoryCategory::Workspace);
  }
  return op_scratch_.as<float>();
}

// The weight is widened a slice of S output rows at a time (bf16_weight_slice_rows): out[:, o0:o0+S] from slice
// o0, dx summed over the slices in order, and each slice of dw widened, accumulated and rounded once.
void CpuBackend::linear_forward_bf16_widened(float* out, const float* x, const bf16* w, int N, int IC, int OC) {
  const size_t nx = (size_t)N * IC, S = bf16_weight_slice_rows(IC, OC);
  float* xr = op_scratch(nx + S * IC);  // xr[N,IC] | wf[S,IC]
  float* wf = xr + nx;
  round_to_bf16_values(xr, x, nx);
  for (size_t o0 = 0; o0 < (size_t)OC; o0 += S) {
    const size_t rows = std::min(S, (size_t)OC - o0);
    widen(wf, w + o0 * IC, rows * IC);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, (int)rows, IC, 1.0f, xr, IC, wf, IC, 0.0f, out + o0, OC);
  }
}

void CpuBackend::linear_backward_bf16_widened(float* dx, bf16* dw, const float* dout, const float* x, const bf16* w,
                                               int N, int IC, int OC) {
  if (!dx && !dw) return;
  const size_t nd = (size_t)N * OC, nx = (size_t)N * IC, S = bf16_weight_slice_rows(IC, OC);
  float* dr = op_scratch(nd + nx + S * IC);  // dr[N,OC] | xr[N,IC] | wf[S,IC] (a weight slice, then a gradient's)
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

// ---- bf16 linears on oneDNN ------------------------------------------------------------------------------------
// The operands are rounded into bf16 scratch (x, dout), the weight is read as it is stored (bf16), oneDNN sums exact
// products in fp32; dw is widened a slice of rows at a time into fp32, the product added, and rounded once.

namespace {

size_t align64(size_t b) { return (b + 63) / 64 * 64; }

GemmDesc fwd_gemm(int N, int IC, int OC) { return {N, OC, IC, false, true, IC, IC, OC, false}; }  // x @ w^T
GemmDesc dx_gemm(int N, int IC, int OC) { return {N, IC, OC, false, false, OC, IC, IC, true}; }   // dx += dout @ w
GemmDesc dw_gemm(int rows, int N, int IC, int OC) {  // slice += dout[:, o0:o0+rows]^T @ x
  return {rows, IC, N, true, false, OC, IC, IC, true};
}

// Where each piece of the oneDNN path's scratch lies: xb[N,IC] | db[N,OC] (bf16) | slice[S,IC] (fp32) | scratchpad.
struct OneDnnScratch {
  size_t db = 0, slice = 0, pad = 0, bytes = 0;
};
OneDnnScratch onednn_layout(size_t N, size_t IC, size_t OC, size_t pad_bytes) {
  OneDnnScratch s;
  s.db = align64(N * IC * sizeof(bf16));
  s.slice = s.db + align64(N * OC * sizeof(bf16));
  s.pad = s.slice + align64(bf16_weight_slice_rows(IC, OC) * IC * sizeof(float));
  s.bytes = s.pad + align64(pad_bytes);
  return s;
}

// The largest scratchpad of a layer's GEMMs (the weight-gradient slices come in two heights at most).
template <class PadOf>
size_t largest_pad(int N, int IC, int OC, PadOf pad_of) {
  const int S = (int)bf16_weight_slice_rows(IC, OC);
  size_t p = std::max({pad_of(fwd_gemm(N, IC, OC)), pad_of(dx_gemm(N, IC, OC)), pad_of(dw_gemm(S, N, IC, OC))});
  if (OC % S) p = std::max(p, pad_of(dw_gemm(OC % S, N, IC, OC)));
  return p;
}

}  // namespace

size_t bf16_widened_linear_scratch_bytes(size_t N, size_t IC, size_t OC) {
  // backward: dout | x | a weight slice (the forward needs the last two)
  return op_scratch_granules((N * OC + N * IC + bf16_weight_slice_rows(IC, OC) * IC) * sizeof(float));
}

size_t bf16_linear_scratch_bytes(size_t N, size_t IC, size_t OC) {
  if (!OneDnnGemm::native()) return bf16_widened_linear_scratch_bytes(N, IC, OC);
  const size_t pad = largest_pad((int)N, (int)IC, (int)OC, [](const GemmDesc& g) { return onednn_scratchpad_bytes(g); });
  return op_scratch_granules(onednn_layout(N, IC, OC, pad).bytes);
}

bool CpuBackend::bf16_gemm_on_onednn() const { return OneDnnGemm::native(); }

OneDnnGemm& CpuBackend::onednn() {
  if (!onednn_) onednn_ = std::make_unique<OneDnnGemm>();
  return *onednn_;
}

void CpuBackend::linear_forward_bf16(float* out, const float* x, const bf16* w, int N, int IC, int OC) {
  if (!bf16_gemm_on_onednn()) return linear_forward_bf16_widened(out, x, w, N, IC, OC);
  OneDnnGemm& g = onednn();
  const OneDnnScratch s =
      onednn_layout(N, IC, OC, largest_pad(N, IC, OC, [&g](const GemmDesc& q) { return g.scratchpad_bytes(q); }));
  char* base = reinterpret_cast<char*>(op_scratch((s.bytes + sizeof(float) - 1) / sizeof(float)));
  bf16* xb = reinterpret_cast<bf16*>(base);
  narrow(xb, x, (size_t)N * IC);
  g.run(fwd_gemm(N, IC, OC), xb, w, out, base + s.pad);
}

void CpuBackend::linear_backward_bf16(float* dx, bf16* dw, const float* dout, const float* x, const bf16* w, int N,
                                      int IC, int OC) {
  if (!dx && !dw) return;
  if (!bf16_gemm_on_onednn()) return linear_backward_bf16_widened(dx, dw, dout, x, w, N, IC, OC);
  OneDnnGemm& g = onednn();
  const OneDnnScratch s =
      onednn_layout(N, IC, OC, largest_pad(N, IC, OC, [&g](const GemmDesc& q) { return g.scratchpad_bytes(q); }));
  char* base = reinterpret_cast<char*>(op_scratch((s.bytes + sizeof(float) - 1) / sizeof(float)));
  bf16* xb = reinterpret_cast<bf16*>(base);
  bf16* db = reinterpret_cast<bf16*>(base + s.db);
  float* slice = reinterpret_cast<float*>(base + s.slice);
  void* pad = base + s.pad;
  narrow(db, dout, (size_t)N * OC);
  if (dx) g.run(dx_gemm(N, IC, OC), db, w, dx, pad);
  if (dw) {
    narrow(xb, x, (size_t)N * IC);
    const size_t S = bf16_weight_slice_rows(IC, OC);
    for (size_t o0 = 0; o0 < (size_t)OC; o0 += S) {
      const int rows = (int)std::min(S, (size_t)OC - o0);
      widen(slice, dw + o0 * IC, (size_t)rows * IC);
      g.run(dw_gemm(rows, N, IC, OC), db + o0, xb, slice, pad);
      narrow(dw + o0 * IC, slice, (size_t)rows * IC);
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
  float* acc = op_scratch(R * C);  // acc[R,C]
  for (size_t r = 0; r < R; ++r) widen(acc + r * C, dtable + (size_t)rows[r] * C, (size_t)C);
  std::vector<int32_t> compact(N);
  for (int n = 0; n < N; ++n) compact[n] = slot[tokens[n]];
  embedding_backward(acc, dout, compact.data(), N, C, (int)R);
  for (size_t r = 0; r < R; ++r) narrow(dtable + (size_t)rows[r] * C, acc + r * C, (size_t)C);
}

void CpuBackend::convert_f32_to_bf16(bf16* dst, const float* src, size_t n) { narrow(dst, src, n); }
void CpuBackend::convert_bf16_to_f32(float* dst, const bf16* src, size_t n) { widen(dst, src, n); }

}  // namespace strata
