// OneDnnGemm: oneDNN matmul primitives (bf16 x bf16 or f32 x f32 -> f32, strided or batched operands, an optional
// sum post-op for "+="), created once per shape with a user-provided scratchpad, run on the backend's OpenMP threads.
#include "backend/cpu/cpu_onednn_gemm.h"

#include <omp.h>

#include <oneapi/dnnl/dnnl.hpp>

#include "core/check.h"

namespace strata {

namespace {

using dt = dnnl::memory::data_type;

dnnl::memory::desc operand(int rows, int cols, bool trans, int ld, dt type) {
  // Element [r, c] lives at r*ld + c, or (trans) at c*ld + r.
  return dnnl::memory::desc({rows, cols}, type,
                            trans ? dnnl::memory::dims{1, ld} : dnnl::memory::dims{ld, 1});
}

dnnl::matmul::primitive_desc describe(const GemmDesc& g, const dnnl::engine& eng) {
  const dt in = g.f32 ? dt::f32 : dt::bf16;
  const auto a = operand(g.M, g.K, g.a_trans, g.lda, in);
  const auto b = operand(g.K, g.N, g.b_trans, g.ldb, in);
  const auto c = operand(g.M, g.N, false, g.ldc, dt::f32);
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (g.accumulate) {
    dnnl::post_ops ops;
    ops.append_sum(1.0f);
    attr.set_post_ops(ops);
  }
  return dnnl::matmul::primitive_desc(dnnl::matmul::desc(a, b, c), attr, eng);
}

dnnl::matmul::primitive_desc describe(const BatchedGemmDesc& g, const dnnl::engine& eng) {
  const dnnl::memory::desc a(g.a_dims, dt::bf16, g.a_strides), b(g.b_dims, dt::bf16, g.b_strides),
      c(g.c_dims, dt::f32, g.c_strides);
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (g.alpha != 1.0f) attr.set_output_scales(0, {g.alpha});
  if (g.accumulate) {
    dnnl::post_ops ops;
    ops.append_sum(1.0f);
    attr.set_post_ops(ops);
  }
  return dnnl::matmul::primitive_desc(dnnl::matmul::desc(a, b, c), attr, eng);
}

// Multiply-adds x 2 of a matmul.
double flops(const GemmDesc& g) { return 2.0 * g.M * g.N * g.K; }
double flops(const BatchedGemmDesc& g) {
  double f = 2.0 * (double)g.a_dims[g.a_dims.size() - 1];  // K
  for (int64_t d : g.c_dims) f *= (double)d;               // batch x M x N
  return f;
}

// Below this many flops a matmul runs on the calling thread alone: waking a passive OpenMP team (strata's default
// wait policy) costs more than the split saves (kSmallGemmFlops at ~100 GFLOP/s a core is ~0.2 ms of work).
// Deterministic: the choice depends on the shape only.
constexpr double kSmallGemmFlops = 16e6;
class OneThreadIfSmall {
 public:
  explicit OneThreadIfSmall(double flops) : saved_(flops < kSmallGemmFlops ? omp_get_max_threads() : 0) {
    if (saved_) omp_set_num_threads(1);
  }
  ~OneThreadIfSmall() {
    if (saved_) omp_set_num_threads(saved_);
  }
  OneThreadIfSmall(const OneThreadIfSmall&) = delete;
  OneThreadIfSmall& operator=(const OneThreadIfSmall&) = delete;

 private:
  int saved_;
};

}  // namespace

struct OneDnnGemm::Impl {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm{eng};
  struct Entry {
    dnnl::matmul prim;
    size_t scratch = 0;
    dnnl::memory::desc a, b, c, pad;
  };
  std::map<GemmDesc, Entry> cache;
  std::map<BatchedGemmDesc, Entry> batched;
  std::map<GemmDesc, Entry>& entries(const GemmDesc&) { return cache; }
  std::map<BatchedGemmDesc, Entry>& entries(const BatchedGemmDesc&) { return batched; }
  // The primitive for `g`, created on first use. Call under OneThreadIfSmall(flops(g)): oneDNN sizes its blocking
  // (and scratchpad) by the thread count it sees at creation.
  template <class Desc>
  Entry& get(const Desc& g) {
    auto& from = entries(g);
    auto it = from.find(g);
    if (it != from.end()) return it->second;
    const auto pd = describe(g, eng);
    Entry e{dnnl::matmul(pd), pd.scratchpad_desc().get_size(), pd.src_desc(), pd.weights_desc(), pd.dst_desc(),
            pd.scratchpad_desc()};
    return from.emplace(g, std::move(e)).first->second;
  }
  template <class Desc>
  size_t scratchpad_bytes(const Desc& g) {
    const OneThreadIfSmall scope(flops(g));
    return get(g).scratch;
  }
  template <class Desc>
  void execute(const Desc& g, const void* a, const void* b, float* c, void* scratchpad) {
    const OneThreadIfSmall scope(flops(g));
    Entry& e = get(g);
    dnnl::memory ma(e.a, eng, const_cast<void*>(a)), mb(e.b, eng, const_cast<void*>(b)), mc(e.c, eng, c),
        mpad(e.pad, eng, e.scratch ? scratchpad : nullptr);
    e.prim.execute(strm, {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}, {DNNL_ARG_SCRATCHPAD, mpad}});
    strm.wait();
  }
};

bool OneDnnGemm::native() {
  return dnnl::get_effective_cpu_isa() >= dnnl::cpu_isa::avx512_core_bf16;
}

OneDnnGemm::OneDnnGemm() : impl_(std::make_unique<Impl>()) {}
OneDnnGemm::~OneDnnGemm() = default;

size_t OneDnnGemm::scratchpad_bytes(const GemmDesc& g) { return impl_->scratchpad_bytes(g); }

void OneDnnGemm::run(const GemmDesc& g, const void* a, const void* b, float* c, void* scratchpad) {
  impl_->execute(g, a, b, c, scratchpad);
}

size_t OneDnnGemm::scratchpad_bytes(const BatchedGemmDesc& g) { return impl_->scratchpad_bytes(g); }

void OneDnnGemm::run(const BatchedGemmDesc& g, const void* a, const void* b, float* c, void* scratchpad) {
  impl_->execute(g, a, b, c, scratchpad);
}

std::string OneDnnGemm::implementation(const BatchedGemmDesc& g) {
  const OneThreadIfSmall scope(flops(g));
  return describe(g, impl_->eng).impl_info_str();
}

namespace {
template <class Desc>
size_t scratchpad_without_backend(const Desc& g) {
  const OneThreadIfSmall scope(flops(g));  // as the backend creates it: the scratchpad depends on the thread count
  const dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return describe(g, eng).scratchpad_desc().get_size();
}
}  // namespace

size_t onednn_scratchpad_bytes(const GemmDesc& g) { return scratchpad_without_backend(g); }
size_t onednn_scratchpad_bytes(const BatchedGemmDesc& g) { return scratchpad_without_backend(g); }

}  // namespace strata
