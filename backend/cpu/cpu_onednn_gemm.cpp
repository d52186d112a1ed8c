// OneDnnGemm: oneDNN matmul primitives (bf16 x bf16 or f32 x f32 -> f32, strided operands, an optional sum post-op for "+="),
// created once per shape with a user-provided scratchpad, run on the backend's OpenMP threads.
#include "backend/cpu/cpu_onednn_gemm.h"

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
  Entry& get(const GemmDesc& g) {
    auto it = cache.find(g);
    if (it != cache.end()) return it->second;
    const auto pd = describe(g, eng);
    Entry e{dnnl::matmul(pd), pd.scratchpad_desc().get_size(), pd.src_desc(), pd.weights_desc(), pd.dst_desc(),
            pd.scratchpad_desc()};
    return cache.emplace(g, std::move(e)).first->second;
  }
};

bool OneDnnGemm::native() {
  return dnnl::get_effective_cpu_isa() >= dnnl::cpu_isa::avx512_core_bf16;
}

OneDnnGemm::OneDnnGemm() : impl_(std::make_unique<Impl>()) {}
OneDnnGemm::~OneDnnGemm() = default;

size_t OneDnnGemm::scratchpad_bytes(const GemmDesc& g) { return impl_->get(g).scratch; }

void OneDnnGemm::run(const GemmDesc& g, const void* a, const void* b, float* c, void* scratchpad) {
  Impl::Entry& e = impl_->get(g);
  dnnl::memory ma(e.a, impl_->eng, const_cast<void*>(a)), mb(e.b, impl_->eng, const_cast<void*>(b)),
      mc(e.c, impl_->eng, c), mpad(e.pad, impl_->eng, e.scratch ? scratchpad : nullptr);
  e.prim.execute(impl_->strm, {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc},
                               {DNNL_ARG_SCRATCHPAD, mpad}});
  impl_->strm.wait();
}

size_t onednn_scratchpad_bytes(const GemmDesc& g) {
  const dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return describe(g, eng).scratchpad_desc().get_size();
}

}  // namespace strata
