// Backend: the one interface every compute device implements: memory (by kind, accounted), streams, events,
// asynchronous copies, and the forward/backward op set of a LLaMA decoder. The CPU backend is the reference.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/bf16.h"
#include "backend/buffer.h"
#include "backend/op_kinds.h"
#include "memory/memory_kind.h"
#include "memory/memory_tracker.h"

namespace strata {

// What a backend can do; callers fall back gracefully when a capability is missing (ggml-style).
struct BackendCaps {
  bool async = false;           // ops and copies are queued on streams and run asynchronously
  bool events = false;          // events are real synchronisation points (else always complete)
  bool pinned_host = false;     // MemoryKind::HostPinned is page-locked, DMA-able memory
  bool device_is_host = true;   // device pointers can be dereferenced by host code
};

// Shape of one causal grouped-query attention call. q: [B,T,NH,HS], k/v: [B,T,NKV,HS]; NKV divides NH.
// bf16_inputs: q, k and v are rounded to bf16 before the score and output products (tensor-core attention, the
// bf16 engine); the CUDA backend, and the CPU backend where it has bf16 units, also round the softmax probabilities,
// dO and dS to bf16 as GEMM operands (the ref backend does not: it is the exact oracle). Accumulation is fp32.
struct AttentionShape {
  int B = 0, T = 0, NH = 0, NKV = 0, HS = 0;
  bool bf16_inputs = false;
};

// Shape of one cached attention call (generation). q: [B,Tq,NH,HS]; each row's K/V caches hold S positions:
// [B,S,NKV,HS], fp32, or bf16 when bf16_cache (the bf16 engine: q is rounded to bf16 as well, as with
// AttentionShape::bf16_inputs; the probabilities stay fp32 on every backend).
struct CachedAttentionShape {
  int B = 0, Tq = 0, S = 0, NH = 0, NKV = 0, HS = 0;
  bool bf16_cache = false;
};

// One AdamW update (PyTorch's torch.optim.AdamW semantics, decoupled weight decay, bias correction):
//   g = grad * grad_scale;  p *= 1 - lr * weight_decay;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//   p -= (lr / (1 - b1^step)) * m / (sqrt(v) / sqrt(1 - b2^step) + eps)
struct AdamWStep {
  float lr = 0, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f, weight_decay = 0;
  float grad_scale = 1;  // e.g. the gradient-clipping coefficient
  int64_t step = 1;      // 1-based count of updates this state has seen, including this one
};

class Backend;

// A queue of work (CUDA stream). Move-only; destroys its handle through its backend.
class Stream {
 public:
  Stream() = default;
  Stream(Backend* backend, void* handle) : backend_(backend), handle_(handle) {}
  Stream(Stream&& o) noexcept { *this = std::move(o); }
  Stream& operator=(Stream&& o) noexcept;
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  ~Stream();
  void* handle() const { return handle_; }

 private:
  Backend* backend_ = nullptr;
  void* handle_ = nullptr;
};

// A point in a stream that other streams or the host can wait for (CUDA event). Move-only.
class Event {
 public:
  Event() = default;
  Event(Backend* backend, void* handle) : backend_(backend), handle_(handle) {}
  Event(Event&& o) noexcept { *this = std::move(o); }
  Event& operator=(Event&& o) noexcept;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  ~Event();
  void* handle() const { return handle_; }

 private:
  Backend* backend_ = nullptr;
  void* handle_ = nullptr;
};

class Backend {
 public:
  virtual ~Backend() = default;
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;

  virtual std::string name() const = 0;
  virtual BackendCaps caps() const = 0;
  MemoryTracker& memory() { return memory_; }
  const MemoryTracker& memory() const { return memory_; }

  // ---- memory ---------------------------------------------------------------------------------------------
  // Allocates `bytes` (rounded up to `alignment`) of `kind`, accounted under `category`. Throws StrataError when
  // the kind's budget would be exceeded or the allocation fails. The Buffer frees itself.
  Buffer alloc(MemoryKind kind, size_t bytes, MemoryCategory category, size_t alignment = 4096);

  // ---- streams, events, copies ----------------------------------------------------------------------------
  Stream create_stream();
  Event create_event();
  // The stream ops run on. Copies may use other streams and synchronise through events.
  Stream& compute_stream() { return compute_stream_; }
  // Asynchronous copy of `bytes` between any two kinds, ordered on `stream`.
  virtual void copy_async(void* dst, const void* src, size_t bytes, Stream& stream) = 0;
  // Blocking copy ordered after all work already queued on the compute stream.
  void copy(void* dst, const void* src, size_t bytes);
  virtual void record(Event& event, Stream& stream) = 0;
  virtual void stream_wait(Stream& stream, Event& event) = 0;  // stream waits (device-side) for event
  virtual void event_synchronize(Event& event) = 0;            // host blocks until event completes
  virtual bool event_query(Event& event) = 0;                  // true when complete
  virtual void stream_synchronize(Stream& stream) = 0;
  virtual void synchronize() = 0;  // all streams

  // ---- ops ------------------------------------------------------------------------------------------------
  // All pointers are Device memory; ops are queued on the compute stream. N = B*T rows, C model dim, V vocab.
  // Gradient outputs marked "+=" accumulate into what the caller provides (zero it first); nullable where noted.
  virtual bool supports(OpKind op) const = 0;

  // out[N,C] = table[tokens[n], :]; table: [V,C]
  virtual void embedding_forward(float* out, const int32_t* tokens, const float* table, int N, int C, int V) = 0;
  // dtable[V,C] += scatter of dout[N,C] by tokens (deterministic order)
  virtual void embedding_backward(float* dtable, const float* dout, const int32_t* tokens, int N, int C, int V) = 0;

  // out[N,C] = x / sqrt(mean(x^2) + eps) * w; rstd[N] saved for backward
  virtual void rmsnorm_forward(float* out, float* rstd, const float* x, const float* w, int N, int C, float eps) = 0;
  // dx[N,C] +=; dw[C] += (nullable)
  virtual void rmsnorm_backward(float* dx, float* dw, const float* dout, const float* x, const float* w,
                                const float* rstd, int N, int C) = 0;

  // out[N,OC] = x[N,IC] @ w[OC,IC]^T  (HF nn.Linear layout, no bias)
  virtual void linear_forward(float* out, const float* x, const float* w, int N, int IC, int OC) = 0;
  // dx[N,IC] += dout @ w (nullable); dw[OC,IC] += dout^T @ x (nullable)
  virtual void linear_backward(float* dx, float* dw, const float* dout, const float* x, const float* w, int N,
                               int IC, int OC) = 0;

  // Rotary embedding, HF rotate-half convention, on x[B,T,H,HS]; pos[B*T] positions (null: 0..T-1 per row).
  // out may alias in.
  virtual void rope_forward(float* out, const float* in, const int32_t* pos, int B, int T, int H, int HS,
                            float theta) = 0;
  // din = R^T dout (overwrites; may alias dout)
  virtual void rope_backward(float* din, const float* dout, const int32_t* pos, int B, int T, int H, int HS,
                             float theta) = 0;

  // Causal GQA attention, scale 1/sqrt(HS). out[B,T,NH,HS]; lse[B,NH,T] = logsumexp of each score row.
  virtual void attention_forward(float* out, float* lse, const float* q, const float* k, const float* v,
                                 const AttentionShape& s) = 0;
  // dq[B,T,NH,HS] +=, dk/dv[B,T,NKV,HS] +=
  virtual void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k,
                                  const float* v, const float* out, const float* lse, const AttentionShape& s) = 0;

  // Generation with a KV cache. First stores k_new/v_new [B,Tq,NKV,HS] into k_cache/v_cache [B,S,NKV,HS] at the
  // positions pos[B*Tq] of their row (rounded to bf16 for a bf16 cache); then each query q[b,t] attends positions
  // 0..pos[b*Tq+t] of row b's cache (causal by position, scale 1/sqrt(HS)): out[B,Tq,NH,HS]. Every pos < S; rows
  // may sit at different positions (batched prompts of different lengths). pos is Device memory.
  virtual void attention_cached(float* out, const float* q, const float* k_new, const float* v_new, void* k_cache,
                                void* v_cache, const int32_t* pos, const CachedAttentionShape& s) = 0;

  // out[n] = silu(gate[n]) * up[n]
  virtual void swiglu_forward(float* out, const float* gate, const float* up, size_t n) = 0;
  // dgate[n] +=, dup[n] +=
  virtual void swiglu_backward(float* dgate, float* dup, const float* dout, const float* gate, const float* up,
                               size_t n) = 0;

  // out[n] = a[n] + b[n] (residual); out may alias a or b
  virtual void add(float* out, const float* a, const float* b, size_t n) = 0;

  // losses[N] = -log softmax(logits[n,:])[targets[n]]; 0 where targets[n] == ignore_index
  virtual void cross_entropy_forward(float* losses, const float* logits, const int32_t* targets, int N, int V,
                                     int ignore_index) = 0;
  // dlogits[N,V] = scale * (softmax(logits) - onehot(target)); 0 rows where ignored. dlogits may alias logits.
  virtual void cross_entropy_backward(float* dlogits, const float* logits, const int32_t* targets, float scale,
                                      int N, int V, int ignore_index) = 0;

  virtual void fill_zero(void* ptr, size_t bytes) = 0;

  // Allocates now the scratch the backend's own ops would grow to (`bytes`, as the planner sizes it: the CPU
  // backend's op scratch), so that placement decisions see it; a no-op where no such scratch exists.
  virtual void reserve_op_scratch(size_t bytes) { (void)bytes; }
  // The accounted device bytes that scratch holds now: the backend's own, kept from one op call to the next.
  virtual size_t op_scratch_held() const { return 0; }

  // In-place AdamW on param/m/v [n] from grad [n] (see AdamWStep).
  virtual void adamw_update(float* param, const float* grad, float* m, float* v, size_t n, const AdamWStep& s) = 0;
  // Sum of x[i]^2 in double, deterministic for a given n (fixed reduction order); blocks until done.
  virtual double sum_squares(const float* x, size_t n) = 0;

  // ---- bf16 storage (the mixed-precision engine) ------------------------------------------------------------
  // Weight matrices, the embedding and their gradients are stored in bf16; activations stay fp32. GEMM inputs are
  // rounded to bf16 (round to nearest even), their products are exact in fp32 and are summed in fp32; a bf16
  // output is rounded once, after the whole sum. Backends differ only in summation order.
  // out[N,OC] = bf16(x) @ w^T
  virtual void linear_forward_bf16(float* out, const float* x, const bf16* w, int N, int IC, int OC) = 0;
  // dx[N,IC] += bf16(dout) @ w (nullable); dw[OC,IC] = bf16(dw + bf16(dout)^T @ bf16(x)) (nullable)
  virtual void linear_backward_bf16(float* dx, bf16* dw, const float* dout, const float* x, const bf16* w, int N,
                                    int IC, int OC) = 0;
  // out[N,C] = table[tokens[n], :] (exact: bf16 -> fp32)
  virtual void embedding_forward_bf16(float* out, const int32_t* tokens, const bf16* table, int N, int C,
                                      int V) = 0;
  // dtable[v,:] = bf16(dtable[v,:] + sum of dout[n,:] over tokens[n] == v, summed in fp32 in order of n), for
  // every v that occurs; other rows are untouched.
  virtual void embedding_backward_bf16(bf16* dtable, const float* dout, const int32_t* tokens, int N, int C,
                                       int V) = 0;
  // AdamW (see AdamWStep) on the fp32 master copy from a bf16 gradient; then param[n] = bf16(master[n]).
  virtual void adamw_update_bf16(float* master, bf16* param, const bf16* grad, float* m, float* v, size_t n,
                                 const AdamWStep& s) = 0;
  // Sum of x[i]^2 in double, deterministic for a given n; blocks until done.
  virtual double sum_squares_bf16(const bf16* x, size_t n) = 0;
  // dst[n] = bf16(src[n]) (round to nearest even) / dst[n] = float(src[n]) (exact)
  virtual void convert_f32_to_bf16(bf16* dst, const float* src, size_t n) = 0;
  virtual void convert_bf16_to_f32(float* dst, const bf16* src, size_t n) = 0;

 protected:
  Backend() = default;
  // Call from the derived constructor once the backend can create streams.
  void init_compute_stream() { compute_stream_ = create_stream(); }
  // Call from the derived destructor: the stream's handle must be destroyed while the derived part exists.
  void destroy_compute_stream() { compute_stream_ = Stream(); }

  virtual void* raw_alloc(MemoryKind kind, size_t bytes, size_t alignment) = 0;
  virtual void raw_free(MemoryKind kind, void* ptr) = 0;
  virtual void* raw_create_stream() = 0;
  virtual void raw_destroy_stream(void* handle) = 0;
  virtual void* raw_create_event() = 0;
  virtual void raw_destroy_event(void* handle) = 0;

 private:
  friend class Buffer;
  friend class Stream;
  friend class Event;
  void release(const Buffer& b);

  MemoryTracker memory_;
  Stream compute_stream_;
};

}  // namespace strata
