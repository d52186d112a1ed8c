// RefBackend: the numerical reference every backend is checked against: single-threaded scalar loops that
// accumulate in double and follow the math literally (no BLAS, no tiling). Slow by design; memory as CpuBackend.
#pragma once
#include "backend/cpu/cpu_backend.h"

namespace strata {

class RefBackend : public CpuBackend {
 public:
  bool bf16_gemm_on_onednn() const override { return false; }  // the oracle widens to fp32
  std::string name() const override { return "ref"; }

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
  void adamw_update(float* param, const float* grad, float* m, float* v, size_t n, const AdamWStep& s) override;
  double sum_squares(const float* x, size_t n) override;
  // bf16 storage: linear, embedding and conversions are the CPU backend's (they widen/round into fp32 scratch and
  // call the reference fp32 ops above); AdamW is literal math in double here.
  void adamw_update_bf16(float* master, bf16* param, const bf16* grad, float* m, float* v, size_t n,
                         const AdamWStep& s) override;
  double sum_squares_bf16(const bf16* x, size_t n) override;
};

}  // namespace strata
