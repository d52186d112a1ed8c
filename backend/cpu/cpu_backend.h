// CpuBackend: compute on the host with oneDNN matmul, OpenBLAS sgemm (fp32 attention tiles) and OpenMP; "device"
// memory is host memory (mimalloc, aligned) accounted as Device so budgets behave as on a GPU. Streams are synchronous.
#pragma once
#include <array>
#include <map>
#include <vector>

#include "backend/backend.h"
#include "backend/cpu/cpu_attention_bf16.h"
#include "backend/cpu/cpu_onednn_gemm.h"

namespace strata {

// Kernels parallelise (OpenMP) only above this much work: tiny parallel regions cost more in fork/join and barrier
// waits than they save, and collapse badly when other processes share the cores. Results never depend on it.
inline constexpr size_t kParallelMinWork = size_t{1} << 18;

// The bf16 linear ops widen the weight (or its gradient) to fp32 a slice of output rows at a time, at most this many
// bytes (at least one row), so the scratch stays small next to a 32K x 8K head.
inline constexpr size_t kBf16WeightSliceBytes = size_t{32} << 20;
inline size_t bf16_weight_slice_rows(size_t IC, size_t OC) {
  const size_t rows = kBf16WeightSliceBytes / (IC * sizeof(float));
  return rows < 1 ? 1 : (rows > OC ? OC : rows);
}
// The op scratch grows in whole granules, at least one: what CpuBackend allocates for `bytes` and the planner counts.
inline constexpr size_t kOpScratchGranule = size_t{1} << 20;
inline size_t op_scratch_granules(size_t bytes) {
  return (bytes > 0 ? (bytes + kOpScratchGranule - 1) / kOpScratchGranule : 1) * kOpScratchGranule;
}
// Bytes of the op scratch for a bf16 linear layer of N rows, IC inputs and OC outputs (forward and backward). Where
// oneDNN runs bf16 GEMMs natively (OneDnnGemm::native) the scratch holds bf16 operands, one fp32 slice of the weight
// gradient and oneDNN's scratchpad; elsewhere fp32 operands and a widened weight slice for sgemm (the layout the ref
// backend always uses).
size_t bf16_linear_scratch_bytes(size_t N, size_t IC, size_t OC);
size_t bf16_widened_linear_scratch_bytes(size_t N, size_t IC, size_t OC);
// Bytes of the scratch of an fp32 linear layer (oneDNN's scratchpad for its three GEMMs), in whole granules.
size_t f32_linear_scratch_bytes(size_t N, size_t IC, size_t OC);

class CpuBackend : public Backend {
 public:
  CpuBackend();
  // Tests: the bf16-unit attention's chunk target (kBf16AttentionChunkBytes by default, which the planner assumes).
  explicit CpuBackend(size_t attention_chunk_bytes);
  ~CpuBackend() override;

  std::string name() const override { return "cpu"; }
  BackendCaps caps() const override;

  void copy_async(void* dst, const void* src, size_t bytes, Stream& stream) override;
  void record(Event& event, Stream& stream) override;
  void stream_wait(Stream& stream, Event& event) override;
  void event_synchronize(Event& event) override;
  bool event_query(Event& event) override;
  void stream_synchronize(Stream& stream) override;
  void synchronize() override;

  bool supports(OpKind) const override { return true; }

  void embedding_forward(float* out, const int32_t* tokens, const float* table, int N, int C, int V) override;
  void embedding_backward(float* dtable, const float* dout, const int32_t* tokens, int N, int C, int V) override;
  void rmsnorm_forward(float* out, float* rstd, const float* x, const float* w, int N, int C, float eps) override;
  void rmsnorm_backward(float* dx, float* dw, const float* dout, const float* x, const float* w, const float* rstd,
                        int N, int C) override;
  void linear_forward(float* out, const float* x, const float* w, int N, int IC, int OC) override;
  void linear_backward(float* dx, float* dw, const float* dout, const float* x, const float* w, int N, int IC,
                       int OC) override;
  void rope_forward(float* out, const float* in, const int32_t* pos, int B, int T, int H, int HS,
                    float theta) override;
  void rope_backward(float* din, const float* dout, const int32_t* pos, int B, int T, int H, int HS,
                     float theta) override;
  void attention_forward(float* out, float* lse, const float* q, const float* k, const float* v,
                         const AttentionShape& s) override;
  void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k,
                          const float* v, const float* out, const float* lse, const AttentionShape& s) override;
  void attention_cached(float* out, const float* q, const float* k_new, const float* v_new, void* k_cache,
                        void* v_cache, const int32_t* pos, const CachedAttentionShape& s) override;
  void swiglu_forward(float* out, const float* gate, const float* up, size_t n) override;
  void swiglu_backward(float* dgate, float* dup, const float* dout, const float* gate, const float* up,
                       size_t n) override;
  void add(float* out, const float* a, const float* b, size_t n) override;
  void cross_entropy_forward(float* losses, const float* logits, const int32_t* targets, int N, int V,
                             int ignore_index) override;
  void cross_entropy_backward(float* dlogits, const float* logits, const int32_t* targets, float scale, int N, int V,
                              int ignore_index) override;
  void fill_zero(void* ptr, size_t bytes) override;
  void adamw_update(float* param, const float* grad, float* m, float* v, size_t n, const AdamWStep& s) override;
  double sum_squares(const float* x, size_t n) override;

  void linear_forward_bf16(float* out, const float* x, const bf16* w, int N, int IC, int OC) override;
  void linear_backward_bf16(float* dx, bf16* dw, const float* dout, const float* x, const bf16* w, int N, int IC,
                            int OC) override;
  void embedding_forward_bf16(float* out, const int32_t* tokens, const bf16* table, int N, int C, int V) override;
  void embedding_backward_bf16(bf16* dtable, const float* dout, const int32_t* tokens, int N, int C,
                               int V) override;
  void adamw_update_bf16(float* master, bf16* param, const bf16* grad, float* m, float* v, size_t n,
                         const AdamWStep& s) override;
  double sum_squares_bf16(const bf16* x, size_t n) override;
  void convert_f32_to_bf16(bf16* dst, const float* src, size_t n) override;
  void convert_bf16_to_f32(float* dst, const bf16* src, size_t n) override;
  void reserve_op_scratch(size_t bytes) override {
    if (bytes) op_scratch(bytes / sizeof(float));
  }
  size_t op_scratch_held() const override { return op_scratch_ ? op_scratch_.bytes() : 0; }

 protected:
  void* raw_alloc(MemoryKind kind, size_t bytes, size_t alignment) override;
  void raw_free(MemoryKind kind, void* ptr) override;
  void* raw_create_stream() override { return nullptr; }
  void raw_destroy_stream(void*) override {}
  void* raw_create_event() override { return nullptr; }
  void raw_destroy_event(void*) override {}

 protected:
  // The ops' scratch (bf16 operands, widened weights, rounded q/k/v, oneDNN's scratchpad), reused across calls;
  // accounted as device workspace and grown in whole MiB (the planner sizes its largest use: bf16_linear_scratch_bytes,
  // f32_linear_scratch_bytes, rounded_qkv_scratch_bytes).
  float* op_scratch(size_t floats);
  // Whether the bf16 linears run on oneDNN (the CPU's bf16 units): the cpu backend where they are native; never the
  // ref backend, which keeps widening to fp32 as the oracle.
  virtual bool bf16_gemm_on_onednn() const;

 private:
  // The widen-to-fp32 + sgemm bf16 linears (CPUs without bf16 units, and the ref backend).
  void linear_forward_bf16_widened(float* out, const float* x, const bf16* w, int N, int IC, int OC);
  void linear_backward_bf16_widened(float* dx, bf16* dw, const float* dout, const float* x, const bf16* w, int N,
                                    int IC, int OC);
  OneDnnGemm& onednn();
  void* pad_for(const GemmDesc& d);  // oneDNN's scratchpad for an fp32 linear's GEMM, from the op scratch
  // AttentionShape::bf16_inputs on the bf16 units (cpu_attention_bf16.cpp): bf16 operands as the CUDA kernels.
  void attention_forward_bf16_units(float* out, float* lse, const float* q, const float* k, const float* v,
                                    const AttentionShape& s);
  void attention_backward_bf16_units(float* dq, float* dk, float* dv, const float* dout, const float* q,
                                     const float* k, const float* v, const float* out, const float* lse,
                                     const AttentionShape& s);
  // The largest oneDNN scratchpad of such a call done `bc` sequences at a time, computed once per shape.
  size_t bf16_attention_pad(const AttentionShape& s, int bc);

  Buffer op_scratch_;
  std::unique_ptr<OneDnnGemm> onednn_;  // created on first use
  size_t attention_chunk_bytes_;
  std::map<std::array<int, 6>, size_t> bf16_attention_pads_;  // (B, T, NH, NKV, HS, bc) -> bytes
};

// Throws (naming the row) unless every pos[i] of a cached attention call (host-readable) lies in [0, S).
void check_cached_attention_positions(const int32_t* pos, const CachedAttentionShape& s);

// q, k, v rounded to bf16 values (kept in fp32) for AttentionShape::bf16_inputs, and the shape to run the exact
// fp32 attention on them with (bf16_inputs cleared). `storage` holds rounded_qkv_floats(s) floats (the backend's
// accounted bf16 scratch).
struct RoundedQkv {
  RoundedQkv(float* storage, const float* q, const float* k, const float* v, const AttentionShape& s);
  const float *q, *k, *v;  // into storage: [B*T*NH*HS | B*T*NKV*HS | B*T*NKV*HS]
  AttentionShape exact;
};
inline size_t rounded_qkv_floats(size_t B, size_t T, size_t NH, size_t NKV, size_t HS) {
  return B * T * (NH + 2 * NKV) * HS;
}
inline size_t rounded_qkv_scratch_bytes(size_t B, size_t T, size_t NH, size_t NKV, size_t HS) {
  return op_scratch_granules(rounded_qkv_floats(B, T, NH, NKV, HS) * sizeof(float));
}

// The op scratch of a bf16_inputs attention call on the CPU backend: the bf16-unit path's (cpu_attention_bf16.h)
// where OneDnnGemm::native(), else rounded q/k/v (RoundedQkv).
size_t cpu_bf16_attention_scratch_bytes(size_t B, size_t T, size_t NH, size_t NKV, size_t HS);

// RoPE inverse frequency for pair i of a head of size HS, computed exactly as HF transformers does in fp32:
// 1 / theta^(float(2i) / HS).
float rope_inv_freq(int i, int HS, float theta);

}  // namespace strata
