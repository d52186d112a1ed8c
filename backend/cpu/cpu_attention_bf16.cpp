// The bf16 engine's causal GQA attention on the CPU's bf16 units (oneDNN batched matmuls), with the semantics of the
// CUDA tensor-core kernels: q, k, v, the probabilities, dO and dS are bf16 GEMM operands; sums, softmax, lse in fp32.
#include "backend/cpu/cpu_attention_bf16.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/cpu_vector_math.h"
#include "core/dtype_convert.h"

namespace strata {

// ---- Layout ------------------------------------------------------------------------------------------------------
// A chunk of bc sequences is done at a time, one query block of QB rows after another, every head of the chunk in
// each batched matmul. Index conventions (G = NH / NKV heads share kv head kvh = h / G, g = h % G):
//   Qp, dOp [bc, NKV, nqb, G, QB, HS] bf16: query t = qb*QB + i of head h; rows t >= T are zeros. Packing a query
//     block's G heads together lets dK and dV sum over (g, i) as one K dimension of G*QB.
//   Kp, Vp  [bc, NKV, T, HS] bf16.
//   S, dP   [bc, NKV, G, QB, nk] fp32 and Pb, dSb [bc, NKV, G, QB, nk] bf16 for the current block (nk = keys it sees:
//     t0 + bs); rows i >= bs of Pb and dSb are zeros in the backward.
//   D       [bc, NH, T] fp32: D_t = sum_e bf16(dO_te) O_te.
//   l       [bc, NH, QB] fp32: the forward's row sums of the block.
// The forward rounds the unnormalised probabilities exp(x - row max) to bf16 and divides P V by their fp32 sum, as the
// CUDA kernels do (their running max is this max when a row's keys fit one tile).

namespace {

constexpr int kQB = 64;  // query rows per block

size_t align64(size_t b) {
  return (b + 63) / 64 * 64;
}

struct Dims {
  int64_t B, T, NH, NKV, HS, G, nqb, Tp;
  explicit Dims(const AttentionShape& s)
      : B(s.B), T(s.T), NH(s.NH), NKV(s.NKV), HS(s.HS), G(s.NH / s.NKV), nqb((s.T + kQB - 1) / kQB), Tp(nqb * kQB) {}
  int64_t bs(int qb) const { return std::min<int64_t>(kQB, T - (int64_t)qb * kQB); }
  int64_t nk(int qb) const { return (int64_t)qb * kQB + bs(qb); }
};

// Bytes of every buffer but oneDNN's scratchpad for one sequence.
size_t per_sequence_bytes(const Dims& d) {
  return 2 * (size_t)(d.NH * d.Tp * d.HS) * 2 +  // Qp, dOp
         2 * (size_t)(d.NKV * d.T * d.HS) * 2 +  // Kp, Vp
         2 * (size_t)(d.NH * kQB * d.T) * 4 +    // S, dP
         2 * (size_t)(d.NH * kQB * d.T) * 2 +    // Pb, dSb
         (size_t)(d.NH * d.T) * 4 +              // D
         (size_t)(d.NH * kQB) * 4 + 9 * 64;      // row sums, alignment
}

// Sequences per chunk: as many as fit `target` bytes of scratch (at least one).
int chunk_sequences(const Dims& d, size_t target) {
  return (int)std::clamp<int64_t>((int64_t)(target / per_sequence_bytes(d)), 1, d.B);
}

struct Layout {
  size_t qp, dop, kp, vp, s, dp, pb, dsb, dd, rowsum, pad, bytes;
};
Layout layout(const Dims& d, int bc, size_t pad_bytes) {
  Layout l{};
  size_t at = 0;
  auto take = [&at](size_t bytes) {
    const size_t here = at;
    at += align64(bytes);
    return here;
  };
  const size_t q = (size_t)(bc * d.NH * d.Tp * d.HS), kv = (size_t)(bc * d.NKV * d.T * d.HS),
               sc = (size_t)(bc * d.NH * kQB * d.T);
  l.qp = take(q * 2), l.dop = take(q * 2), l.kp = take(kv * 2), l.vp = take(kv * 2);
  l.s = take(sc * 4), l.dp = take(sc * 4), l.pb = take(sc * 2), l.dsb = take(sc * 2);
  l.dd = take((size_t)(bc * d.NH * d.T) * 4);
  l.rowsum = take((size_t)(bc * d.NH * kQB) * 4);
  l.pad = take(pad_bytes);
  l.bytes = at;
  return l;
}

// The buffers of a layout, carved out of the op scratch at `base`.
struct Buffers {
  bf16 *Qp, *dOp, *Kp, *Vp, *Pb, *dSb;
  float *S, *dP, *D, *l;
  void* pad;
};
Buffers carve(char* base, const Layout& L) {
  auto b16 = [base](size_t off) { return reinterpret_cast<bf16*>(base + off); };
  auto f32 = [base](size_t off) { return reinterpret_cast<float*>(base + off); };
  return {b16(L.qp), b16(L.dop), b16(L.kp), b16(L.vp),     b16(L.pb),   b16(L.dsb),
          f32(L.s),  f32(L.dp),  f32(L.dd), f32(L.rowsum), base + L.pad};
}

// ---- The matmuls of query block qb for a chunk of bc sequences (strides in elements) ----------------------------
using V = std::vector<int64_t>;

// Qp or dOp rows of block qb as [bc, NKV, G, bs, HS] (offset qb*G*QB*HS from the buffer).
void q_block(const Dims& d, int bc, int qb, V& dims, V& strides) {
  dims = {bc, d.NKV, d.G, d.bs(qb), d.HS};
  strides = {d.NH * d.Tp * d.HS, d.nqb * d.G * kQB * d.HS, kQB * d.HS, d.HS, 1};
}
// The same rows as [bc, NKV, G*QB, HS]: the K operand of dK and dV (padded rows included).
void q_block_flat(const Dims& d, int bc, V& dims, V& strides) {
  dims = {bc, d.NKV, d.G * kQB, d.HS};
  strides = {d.NH * d.Tp * d.HS, d.nqb * d.G * kQB * d.HS, d.HS, 1};
}
// Kp or Vp keys 0..nk as [bc, NKV, 1, nk, HS], or transposed [bc, NKV, 1, HS, nk].
void kv_keys(const Dims& d, int bc, int qb, bool transposed, V& dims, V& strides) {
  const int64_t nk = d.nk(qb);
  dims = transposed ? V{bc, d.NKV, 1, d.HS, nk} : V{bc, d.NKV, 1, nk, d.HS};
  strides = transposed ? V{d.NKV * d.T * d.HS, d.T * d.HS, d.T * d.HS, 1, d.HS}
                       : V{d.NKV * d.T * d.HS, d.T * d.HS, d.T * d.HS, d.HS, 1};
}
// S, dP, Pb or dSb of block qb as [bc, NKV, G, bs, nk].
void scores(const Dims& d, int bc, int qb, V& dims, V& strides) {
  const int64_t nk = d.nk(qb);
  dims = {bc, d.NKV, d.G, d.bs(qb), nk};
  strides = {d.NH * kQB * nk, d.G * kQB * nk, kQB * nk, nk, 1};
}
// Pb or dSb transposed, as [bc, NKV, nk, G*QB].
void scores_t(const Dims& d, int bc, int qb, V& dims, V& strides) {
  const int64_t nk = d.nk(qb);
  dims = {bc, d.NKV, nk, d.G * kQB};
  strides = {d.NH * kQB * nk, d.G * kQB * nk, 1, nk};
}
// out or dq [B, T, NH, HS] rows of block qb as [bc, NKV, G, bs, HS] (offset (b0*T + t0)*NH*HS).
void q_rows(const Dims& d, int bc, int qb, V& dims, V& strides) {
  dims = {bc, d.NKV, d.G, d.bs(qb), d.HS};
  strides = {d.T * d.NH * d.HS, d.G * d.HS, d.HS, d.NH * d.HS, 1};
}
// dk or dv [B, T, NKV, HS] keys 0..nk as [bc, NKV, nk, HS] (offset b0*T*NKV*HS).
void kv_rows(const Dims& d, int bc, int qb, V& dims, V& strides) {
  dims = {bc, d.NKV, d.nk(qb), d.HS};
  strides = {d.T * d.NKV * d.HS, d.HS, d.NKV * d.HS, 1};
}

enum class Mm { Scores, PV, DV, DP, DQ, DK };
BatchedGemmDesc matmul(Mm which, const Dims& d, int bc, int qb, float scale) {
  BatchedGemmDesc g;
  switch (which) {
    case Mm::Scores:  // S = Q K^T
    case Mm::DP:      // dP = dO V^T
      q_block(d, bc, qb, g.a_dims, g.a_strides);
      kv_keys(d, bc, qb, true, g.b_dims, g.b_strides);
      scores(d, bc, qb, g.c_dims, g.c_strides);
      break;
    case Mm::PV:  // out = P V
    case Mm::DQ:  // dq += scale dS K
      scores(d, bc, qb, g.a_dims, g.a_strides);
      kv_keys(d, bc, qb, false, g.b_dims, g.b_strides);
      q_rows(d, bc, qb, g.c_dims, g.c_strides);
      g.accumulate = which == Mm::DQ;
      g.alpha = which == Mm::DQ ? scale : 1.0f;
      break;
    case Mm::DV:  // dv += P^T dO
    case Mm::DK:  // dk += scale dS^T Q
      scores_t(d, bc, qb, g.a_dims, g.a_strides);
      q_block_flat(d, bc, g.b_dims, g.b_strides);
      kv_rows(d, bc, qb, g.c_dims, g.c_strides);
      g.accumulate = true;
      g.alpha = which == Mm::DK ? scale : 1.0f;
      break;
  }
  return g;
}

// The largest oneDNN scratchpad of every matmul of a call (chunks of bc sequences and the last, shorter one).
template <class PadOf>
size_t largest_pad(const Dims& d, int bc, float scale, PadOf pad_of) {
  size_t pad = 0;
  for (int chunk : {bc, (int)(d.B % bc)}) {
    if (chunk == 0) continue;
    for (int qb = 0; qb < d.nqb; ++qb)
      for (Mm m : {Mm::Scores, Mm::PV, Mm::DV, Mm::DP, Mm::DQ, Mm::DK})
        pad = std::max(pad, pad_of(matmul(m, d, chunk, qb, scale)));
  }
  return pad;
}

float softmax_scale(const AttentionShape& s) {
  return 1.0f / std::sqrt((float)s.HS);
}

// ---- Elementwise passes ----------------------------------------------------------------------------------------

// The packing passes share out their rows among the threads of an enclosing parallel region (one region packs all
// operands: fewer wake-ups of a passive OpenMP team), without a barrier of their own.

// Qp (or dOp) of sequences b0..b0+bc from q [B, T, NH, HS], rounded to bf16; padded rows zero.
void pack_queries(bf16* dst, const float* q, const Dims& d, int64_t b0, int bc) {
#pragma omp for collapse(2) schedule(static) nowait
  for (int64_t bl = 0; bl < bc; ++bl)
    for (int64_t t = 0; t < d.Tp; ++t)
      for (int64_t h = 0; h < d.NH; ++h) {
        const int64_t kvh = h / d.G, g = h % d.G, qb = t / kQB, i = t % kQB;
        bf16* o = dst + ((((bl * d.NKV + kvh) * d.nqb + qb) * d.G + g) * kQB + i) * d.HS;
        if (t >= d.T) {
          std::fill(o, o + d.HS, bf16{0});
          continue;
        }
        const float* x = q + (((b0 + bl) * d.T + t) * d.NH + h) * d.HS;
#pragma omp simd
        for (int64_t e = 0; e < d.HS; ++e) o[e] = f32_to_bf16(x[e]);
      }
}

// Kp (or Vp) [bc, NKV, T, HS] from k [B, T, NKV, HS], rounded to bf16.
void pack_keys(bf16* dst, const float* k, const Dims& d, int64_t b0, int bc) {
#pragma omp for collapse(2) schedule(static) nowait
  for (int64_t bl = 0; bl < bc; ++bl)
    for (int64_t t = 0; t < d.T; ++t)
      for (int64_t kvh = 0; kvh < d.NKV; ++kvh) {
        const float* x = k + (((b0 + bl) * d.T + t) * d.NKV + kvh) * d.HS;
        bf16* o = dst + ((bl * d.NKV + kvh) * d.T + t) * d.HS;
#pragma omp simd
        for (int64_t e = 0; e < d.HS; ++e) o[e] = f32_to_bf16(x[e]);
      }
}

// Forward, every row (bl, kvh, g, i < bs) of block qb: Pb = bf16(exp(x - m)) over its visible keys (x = scale * S,
// m the row max), zeros past them; l = the fp32 sum of those exponentials; lse = m + log(l).
void forward_probabilities(const float* S, bf16* Pb, float* l, float* lse, const Dims& d, int64_t b0, int bc, int qb,
                           float scale) {
  const int64_t nk = d.nk(qb), bs = d.bs(qb), t0 = (int64_t)qb * kQB;
  const int64_t rows = bc * d.NH * kQB;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t i = r % kQB, h = (r / kQB) % d.NH, bl = r / (kQB * d.NH);  // h = kvh*G + g: rows are in that order
    if (i >= bs) continue;
    const float* x = S + r * nk;
    bf16* p = Pb + r * nk;
    // Loops over the visible keys, then a fill: a select over all nk keys gets split by GCC into a scalar loop
    // adding zeros past `visible` (15% of the attention's time).
    const int64_t t = t0 + i, visible = t + 1;
    float m = -INFINITY;
#pragma omp simd reduction(max : m)
    for (int64_t j = 0; j < visible; ++j) m = x[j] * scale > m ? x[j] * scale : m;
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < visible; ++j) {
      const float e = exp_vec(x[j] * scale - m);
      p[j] = f32_to_bf16(e);
      sum += e;
    }
    std::fill(p + visible, p + nk, bf16{0});
    l[r] = sum;
    lse[((b0 + bl) * d.NH + h) * d.T + t] = m + std::log(sum);
  }
}

// out rows of block qb (just written as Pb V) divided by their l.
void normalise_rows(float* out, const float* l, const Dims& d, int64_t b0, int bc, int qb) {
  const int64_t bs = d.bs(qb), t0 = (int64_t)qb * kQB;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t bl = 0; bl < bc; ++bl)
    for (int64_t h = 0; h < d.NH; ++h)
      for (int64_t i = 0; i < bs; ++i) {
        float* o = out + (((b0 + bl) * d.T + t0 + i) * d.NH + h) * d.HS;
        const float li = l[(bl * d.NH + h) * kQB + i];
#pragma omp simd
        for (int64_t e = 0; e < d.HS; ++e) o[e] /= li;
      }
}

// Backward, every row of block qb: P = exp(x - lse) (fp32, kept in S) and Pb = bf16(P) over its visible keys,
// zeros past them and in rows i >= bs.
void backward_probabilities(float* S, bf16* Pb, const float* lse, const Dims& d, int64_t b0, int bc, int qb,
                            float scale) {
  const int64_t nk = d.nk(qb), bs = d.bs(qb), t0 = (int64_t)qb * kQB;
  const int64_t rows = bc * d.NH * kQB;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t i = r % kQB, h = (r / kQB) % d.NH, bl = r / (kQB * d.NH);
    float* x = S + r * nk;
    bf16* p = Pb + r * nk;
    if (i >= bs) {
      std::fill(p, p + nk, bf16{0});
      continue;
    }
    const int64_t t = t0 + i, visible = t + 1;
    const float L = lse[((b0 + bl) * d.NH + h) * d.T + t];
#pragma omp simd
    for (int64_t j = 0; j < visible; ++j) {
      const float pj = exp_vec(x[j] * scale - L);
      x[j] = pj;
      p[j] = f32_to_bf16(pj);
    }
    std::fill(x + visible, x + nk, 0.0f);
    std::fill(p + visible, p + nk, bf16{0});
  }
}

// dSb = bf16(P * (dP - D_t)) over the visible keys of every row of block qb; zeros elsewhere and in rows i >= bs.
void score_gradients(bf16* dSb, const float* P, const float* dP, const float* D, const Dims& d, int bc, int qb) {
  const int64_t nk = d.nk(qb), bs = d.bs(qb), t0 = (int64_t)qb * kQB;
  const int64_t rows = bc * d.NH * kQB;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t i = r % kQB, h = (r / kQB) % d.NH, bl = r / (kQB * d.NH);
    bf16* ds = dSb + r * nk;
    if (i >= bs) {
      std::fill(ds, ds + nk, bf16{0});
      continue;
    }
    const float* p = P + r * nk;  // zero past the visible keys
    const float* dp = dP + r * nk;
    const float Dt = D[(bl * d.NH + h) * d.T + t0 + i];
#pragma omp simd
    for (int64_t j = 0; j < nk; ++j) ds[j] = f32_to_bf16(p[j] * (dp[j] - Dt));
  }
}

// D [bc, NH, T]: D_t = sum_e bf16(dO_te) O_te (dO rounded as in dP, so that sum_j P_j (dP_j - D) stays ~0).
void row_dots(float* D, const float* dout, const float* out, const Dims& d, int64_t b0, int bc) {
#pragma omp for collapse(2) schedule(static) nowait
  for (int64_t bl = 0; bl < bc; ++bl)
    for (int64_t t = 0; t < d.T; ++t)
      for (int64_t h = 0; h < d.NH; ++h) {
        const size_t off = (size_t)(((b0 + bl) * d.T + t) * d.NH + h) * d.HS;
        float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
        for (int64_t e = 0; e < d.HS; ++e) acc += bf16_to_f32(f32_to_bf16(dout[off + e])) * out[off + e];
        D[(bl * d.NH + h) * d.T + t] = acc;
      }
}

}  // namespace

size_t bf16_attention_scratch_bytes(const AttentionShape& s, size_t chunk_bytes) {
  const Dims d(s);
  const int bc = chunk_sequences(d, chunk_bytes);
  const size_t pad =
      largest_pad(d, bc, softmax_scale(s), [](const BatchedGemmDesc& g) { return onednn_scratchpad_bytes(g); });
  return op_scratch_granules(layout(d, bc, pad).bytes);
}

std::vector<std::string> bf16_attention_implementations(const AttentionShape& s) {
  const Dims d(s);
  OneDnnGemm mm;
  std::vector<std::string> out;
  const char* names[] = {"scores", "pv", "dv", "dp", "dq", "dk"};
  const int bc = chunk_sequences(d, kBf16AttentionChunkBytes);
  for (int qb = 0; qb < d.nqb; ++qb)
    for (Mm m : {Mm::Scores, Mm::PV, Mm::DV, Mm::DP, Mm::DQ, Mm::DK})
      out.push_back(std::string(names[(int)m]) + " qb=" + std::to_string(qb) + ": " +
                    mm.implementation(matmul(m, d, bc, qb, softmax_scale(s))));
  return out;
}

size_t cpu_bf16_attention_scratch_bytes(size_t B, size_t T, size_t NH, size_t NKV, size_t HS) {
  if (!OneDnnGemm::native()) return rounded_qkv_scratch_bytes(B, T, NH, NKV, HS);
  return bf16_attention_scratch_bytes(AttentionShape{(int)B, (int)T, (int)NH, (int)NKV, (int)HS, true});
}

size_t CpuBackend::bf16_attention_pad(const AttentionShape& s, int bc) {
  const std::array<int, 6> key{s.B, s.T, s.NH, s.NKV, s.HS, bc};
  auto it = bf16_attention_pads_.find(key);
  if (it == bf16_attention_pads_.end()) {
    OneDnnGemm& mm = onednn();
    const size_t pad =
        largest_pad(Dims(s), bc, softmax_scale(s), [&mm](const BatchedGemmDesc& g) { return mm.scratchpad_bytes(g); });
    it = bf16_attention_pads_.emplace(key, pad).first;
  }
  return it->second;
}

void CpuBackend::attention_forward_bf16_units(float* out, float* lse, const float* q, const float* k, const float* v,
                                              const AttentionShape& s) {
  const Dims d(s);
  const float scale = softmax_scale(s);
  OneDnnGemm& mm = onednn();
  const int bc = chunk_sequences(d, attention_chunk_bytes_);
  const Layout L = layout(d, bc, bf16_attention_pad(s, bc));
  const Buffers x = carve(reinterpret_cast<char*>(op_scratch((L.bytes + sizeof(float) - 1) / sizeof(float))), L);
  for (int64_t b0 = 0; b0 < d.B; b0 += bc) {
    const int n = (int)std::min<int64_t>(bc, d.B - b0);
#pragma omp parallel
    {
      pack_queries(x.Qp, q, d, b0, n);
      pack_keys(x.Kp, k, d, b0, n);
      pack_keys(x.Vp, v, d, b0, n);
    }
    for (int qb = 0; qb < d.nqb; ++qb) {
      const int64_t t0 = (int64_t)qb * kQB;
      mm.run(matmul(Mm::Scores, d, n, qb, scale), x.Qp + qb * d.G * kQB * d.HS, x.Kp, x.S, x.pad);
      forward_probabilities(x.S, x.Pb, x.l, lse, d, b0, n, qb, scale);
      mm.run(matmul(Mm::PV, d, n, qb, scale), x.Pb, x.Vp, out + (b0 * d.T + t0) * d.NH * d.HS, x.pad);
      normalise_rows(out, x.l, d, b0, n, qb);
    }
  }
}

void CpuBackend::attention_backward_bf16_units(float* dq, float* dk, float* dv, const float* dout, const float* q,
                                               const float* k, const float* v, const float* out, const float* lse,
                                               const AttentionShape& s) {
  const Dims d(s);
  const float scale = softmax_scale(s);
  OneDnnGemm& mm = onednn();
  const int bc = chunk_sequences(d, attention_chunk_bytes_);
  const Layout L = layout(d, bc, bf16_attention_pad(s, bc));
  const Buffers x = carve(reinterpret_cast<char*>(op_scratch((L.bytes + sizeof(float) - 1) / sizeof(float))), L);
  for (int64_t b0 = 0; b0 < d.B; b0 += bc) {
    const int n = (int)std::min<int64_t>(bc, d.B - b0);
#pragma omp parallel
    {
      pack_queries(x.Qp, q, d, b0, n);
      pack_queries(x.dOp, dout, d, b0, n);
      pack_keys(x.Kp, k, d, b0, n);
      pack_keys(x.Vp, v, d, b0, n);
      row_dots(x.D, dout, out, d, b0, n);
    }
    float* dk_b = dk + b0 * d.T * d.NKV * d.HS;
    float* dv_b = dv + b0 * d.T * d.NKV * d.HS;
    for (int qb = 0; qb < d.nqb; ++qb) {
      const int64_t t0 = (int64_t)qb * kQB, q_off = qb * d.G * kQB * d.HS;
      mm.run(matmul(Mm::Scores, d, n, qb, scale), x.Qp + q_off, x.Kp, x.S, x.pad);
      backward_probabilities(x.S, x.Pb, lse, d, b0, n, qb, scale);
      mm.run(matmul(Mm::DV, d, n, qb, scale), x.Pb, x.dOp + q_off, dv_b, x.pad);
      mm.run(matmul(Mm::DP, d, n, qb, scale), x.dOp + q_off, x.Vp, x.dP, x.pad);
      score_gradients(x.dSb, x.S, x.dP, x.D, d, n, qb);
      mm.run(matmul(Mm::DQ, d, n, qb, scale), x.dSb, x.Kp, dq + (b0 * d.T + t0) * d.NH * d.HS, x.pad);
      mm.run(matmul(Mm::DK, d, n, qb, scale), x.dSb, x.Qp + q_off, dk_b, x.pad);
    }
  }
}

}  // namespace strata
