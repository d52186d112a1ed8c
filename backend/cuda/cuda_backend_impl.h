// CudaBackend class declaration, private to backend/cuda/: cuda_backend.cu defines memory, streams, events
// and copies; each op family's cuda_<family>.cu defines that family's members. All ops are fp32, queued on the
// compute stream, with the semantics of the CPU backend (backend/cpu/) and deterministic results.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "backend/backend.h"
#include "backend/cuda/cuda_attention_shape.cuh"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_portable.h"
#include "memory/device_arena.h"

namespace strata::STRATA_CUDA_NS {

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int device);
  ~CudaBackend() override;

  std::string name() const override {
    return STRATA_CUDA_EMULATED ? std::string("cuda-emu") : "cuda:" + std::to_string(device_);
  }
  BackendCaps caps() const override;

  void copy_async(void* dst, const void* src, size_t bytes, Stream& stream) override;
  void record(Event& event, Stream& stream) override;
  void stream_wait(Stream& stream, Event& event) override;
  void event_synchronize(Event& event) override;
  bool event_query(Event& event) override;
  void stream_synchronize(Stream& stream) override;
  void synchronize() override;

  bool supports(OpKind op) const override;

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
  void cross_entropy_backward(float* dlogits, const float* logits, const int32_t* targets, float scale, int N,
                              int V, int ignore_index) override;
  void fill_zero(void* ptr, size_t bytes) override;
  void adamw_update(float* param, const float* grad, float* m, float* v, size_t n, const AdamWStep& s) override;
  double sum_squares(const float* x, size_t n) override;
  // bf16 storage: cuda_linear_bf16.cu (tensor-core GEMMs) and cuda_bf16_ops.cu (everything else)
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

 protected:
  void* raw_alloc(MemoryKind kind, size_t bytes, size_t alignment) override;
  void raw_free(MemoryKind kind, void* ptr) override;
  void* raw_create_stream() override;
  void raw_destroy_stream(void* h) override;
  void* raw_create_event() override;
  void raw_destroy_event(void* h) override;

 private:
  static cudaStream_t as_stream(Stream& s) { return static_cast<cudaStream_t>(s.handle()); }
  cudaStream_t stream() { return as_stream(compute_stream()); }

  // bf16 tensor-core flash attention (cuda_flash_attention.cu), the path of AttentionShape::bf16_inputs. Each
  // returns false, having queued nothing, when it cannot run the call (head size not a multiple of 16 up to 128,
  // pointers not 16-byte aligned, too little shared memory); attention_forward/backward then fall back.
  bool flash_attention_forward_bf16(float* out, float* lse, const float* q, const float* k, const float* v,
                                    const AttentionShape& s);
  bool flash_attention_backward_bf16(float* dq, float* dk, float* dv, const float* dout, const float* q,
                                     const float* k, const float* v, const float* out, const float* lse,
                                     const AttentionShape& s);

  // Threads per block for a per-row kernel over `width` elements: a power of two >= 32, at most the device limit
  // and 1024 (the block reductions assume whole warps and at most 32 of them).
  int row_threads(int width) const {
    const int cap = std::min(max_threads_per_block_, 1024);
    int t = 32;
    while (t < width && t * 2 <= cap) t *= 2;
    return t;
  }
  // Blocks for a grid-stride elementwise kernel over n items with `threads` per block.
  unsigned grid_for(size_t n, int threads) const {
    const size_t want = (n + (size_t)threads - 1) / (size_t)threads;
    const size_t cap = (size_t)num_sms_ * 32;
    return (unsigned)std::max<size_t>(1, std::min(want, cap));
  }
  // Device scratch memory of at least `bytes`, owned by the backend, valid until the next scratch() call. Only
  // used by work queued on the compute stream, so reuse across ops is ordered by that stream.
  void* scratch(size_t bytes);
  // Deterministic sum of x[i]^2 (T = float or __nv_bfloat16); blocks until done. In cuda_optimizer.cu.
  template <class T>
  double chunked_sum_squares(const T* x, size_t n);
  // The bf16 attention fallback: r[B*T*(NH+2*NKV)*HS] = q, k, v rounded to bf16 (kept fp32); q, k, v then point
  // into r. In cuda_attention.cu.
  void round_qkv_bf16(float* r, const float*& q, const float*& k, const float*& v, const AttentionDims& s);
  // dst[i] = bf16(float(dst[i]) + src[i]) for i < n: one rounding per element. In cuda_bf16_ops.cu.
  void accumulate_into_bf16(bf16* dst, const float* src, size_t n);
  // The cuBLAS handle of the bf16 GEMMs (default math: tensor cores), created on first use on the compute stream.
  cublasHandle_t bf16_blas();

  int device_ = 0;
  int max_threads_per_block_ = 1024;
  int num_sms_ = 1;
  size_t max_shared_per_block_ = 48 * 1024;
  cublasHandle_t cublas_ = nullptr;
  cublasHandle_t cublas_bf16_ = nullptr;  // lazily, by bf16_blas(); cublas_ is pedantic fp32
  Buffer scratch_;  // Device / Workspace, grows on demand
  // All MemoryKind::Device memory: one cudaMalloc (arena_base_) sub-allocated by arena_, both created by
  // device_arena() on the first Device allocation; arena_mu_ guards their creation. Freed last by the destructor.
  DeviceArena& device_arena();
  mutable std::mutex arena_mu_;
  void* arena_base_ = nullptr;
  std::unique_ptr<DeviceArena> arena_;
};

}  // namespace strata::STRATA_CUDA_NS
