// bench_bf16_gemm: the bf16 GEMM candidates for the CPU bf16 engine (issue 18), on the linear layers of the `small`
// preset and of a LLaMA-2-7B block, in one run: today's path (CpuBackend::linear_forward_bf16: widen to fp32, sgemm),
// oneDNN's bf16 matmul (bf16 x bf16 -> fp32 sums, the input rounded to bf16 first, as the engine's semantics say),
// and fp32 sgemm as the reference; GFLOP/s and ratios, with the CPU's bf16 ISA features. Also checks that oneDNN's
// result agrees with the backend's (both sum exact bf16 products in fp32; only the order differs).
#include <cblas.h>
#include <oneapi/dnnl/dnnl.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "core/dtype_convert.h"
#include "core/rng.h"

namespace {

using Clock = std::chrono::steady_clock;

std::string cpu_features() {
  std::ifstream in("/proc/cpuinfo");
  std::string line, model, out;
  bool bf16 = false, amx = false, avx512 = false;
  while (std::getline(in, line)) {
    if (model.empty() && line.rfind("model name", 0) == 0) model = line.substr(line.find(':') + 2);
    if (line.rfind("flags", 0) == 0) {
      bf16 = line.find(" avx512_bf16") != std::string::npos;
      amx = line.find(" amx_bf16") != std::string::npos;
      avx512 = line.find(" avx512f") != std::string::npos;
      break;
    }
  }
  return model + " | avx512f " + (avx512 ? "yes" : "no") + ", avx512_bf16 " + (bf16 ? "yes" : "no") + ", amx_bf16 " +
         (amx ? "yes" : "no");
}

template <class F>
double seconds_per_call(F f, int reps) {
  f();  // warm-up (and oneDNN's primitive creation)
  const auto t0 = Clock::now();
  for (int i = 0; i < reps; ++i) f();
  return std::chrono::duration<double>(Clock::now() - t0).count() / reps;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace strata;
  const int reps = argc > 1 ? std::atoi(argv[1]) : 10;
  std::printf("CPU: %s; %s\n", cpu_features().c_str(), dnnl::version()->cpu_runtime == DNNL_RUNTIME_OMP ? "oneDNN with OpenMP" : "oneDNN");
  std::printf("%-26s %10s %10s %10s %9s %9s %10s\n", "linear (N x IC -> OC)", "sgemm f32", "strata bf16", "onednn bf16",
              "bf16/f32", "dnnl/f32", "max |diff|");
  struct Shape { const char* name; int N, IC, OC; };
  const Shape shapes[] = {{"small q/o (1024x512->512)", 1024, 512, 512}, {"small gate (1024x512->1376)", 1024, 512, 1376},
                          {"small down (1024x1376->512)", 1024, 1376, 512}, {"small head (1024x512->4096)", 1024, 512, 4096},
                          {"7B q (256x4096->4096)", 256, 4096, 4096}, {"7B gate (256x4096->11008)", 256, 4096, 11008},
                          {"7B down (256x11008->4096)", 256, 11008, 4096}};
  CpuBackend be;
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream strm(eng);
  for (const Shape& s : shapes) {
    const size_t nx = (size_t)s.N * s.IC, nw = (size_t)s.OC * s.IC, no = (size_t)s.N * s.OC;
    std::vector<float> x(nx), wf(nw), out(no), ref(no);
    std::vector<bf16> w(nw), xb(nx);
    Rng rng(7);
    for (auto& v : x) v = (float)rng.normal();
    for (size_t i = 0; i < nw; ++i) {
      w[i] = f32_to_bf16((float)rng.normal() * 0.02f);
      wf[i] = bf16_to_f32(w[i]);
    }
    const double flops = 2.0 * s.N * s.IC * s.OC;
    const double t32 = seconds_per_call([&] {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s.N, s.OC, s.IC, 1.0f, x.data(), s.IC, wf.data(), s.IC,
                  0.0f, out.data(), s.OC);
    }, reps);
    const double tbe = seconds_per_call([&] { be.linear_forward_bf16(ref.data(), x.data(), w.data(), s.N, s.IC, s.OC); }, reps);
    using dt = dnnl::memory::data_type;
    using tag = dnnl::memory::format_tag;
    const dnnl::memory::desc src({s.N, s.IC}, dt::bf16, tag::ab), wei({s.IC, s.OC}, dt::bf16, tag::ba),
        dst({s.N, s.OC}, dt::f32, tag::ab);
    const dnnl::matmul mm(dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, wei, dst), eng));
    dnnl::memory msrc(src, eng, xb.data()), mwei(wei, eng, w.data()), mdst(dst, eng, out.data());
    const double tdn = seconds_per_call([&] {
      for (size_t i = 0; i < nx; ++i) xb[i] = f32_to_bf16(x[i]);  // the engine rounds its input first
      mm.execute(strm, {{DNNL_ARG_SRC, msrc}, {DNNL_ARG_WEIGHTS, mwei}, {DNNL_ARG_DST, mdst}});
      strm.wait();
    }, reps);
    double diff = 0, scale = 0;
    for (size_t i = 0; i < no; ++i) {
      diff = std::max(diff, (double)std::fabs(out[i] - ref[i]));
      scale = std::max(scale, (double)std::fabs(ref[i]));
    }
    std::printf("%-26s %10.0f %10.0f %10.0f %8.2fx %8.2fx %10.2g\n", s.name, flops / t32 / 1e9, flops / tbe / 1e9,
                flops / tdn / 1e9, t32 / tbe, t32 / tdn, diff / scale);
  }
  std::printf("(GFLOP/s; max |diff| relative to the largest output: oneDNN vs the backend, both bf16-input fp32 sums)\n");
  return 0;
}
