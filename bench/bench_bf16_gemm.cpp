// bench_bf16_gemm: the CPU bf16 engine's linear forward on the layers of the `small` preset and of a LLaMA-2-7B
// block, in one run: the widen-to-fp32 + sgemm path (the ref backend's, and the cpu backend's on CPUs without bf16
// units), the cpu backend's (oneDNN's bf16 matmul where the CPU has bf16 units; the input rounded to bf16 first, as
// the engine's semantics say), a bare oneDNN matmul, and fp32 sgemm as the reference; GFLOP/s and ratios, with the
// CPU's bf16 ISA features, and the largest difference between the two bf16 paths (summation order only).
#include <cblas.h>
#include <oneapi/dnnl/dnnl.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "backend/ref/ref_backend.h"
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
  const int reps = argc > 1 ? std::atoi(argv[1]) : 10;  // the decode shapes run 100x as often
  std::printf("CPU: %s; %s\n", cpu_features().c_str(), dnnl::version()->cpu_runtime == DNNL_RUNTIME_OMP ? "oneDNN with OpenMP" : "oneDNN");
  std::printf("cpu backend's bf16 linears: %s\n", OneDnnGemm::native() ? "oneDNN (native bf16)" : "widened to fp32");
  std::printf("%-28s %9s %9s %9s %9s %9s %9s %10s\n", "linear (N x IC -> OC)", "sgemm f32", "widened", "strata", "onednn",
              "wide/f32", "strata/f32", "max |diff|");
  struct Shape { const char* name; int N, IC, OC; };
  const Shape shapes[] = {{"small q/o (1024x512->512)", 1024, 512, 512}, {"small gate (1024x512->1376)", 1024, 512, 1376},
                          {"small down (1024x1376->512)", 1024, 1376, 512}, {"small head (1024x512->4096)", 1024, 512, 4096},
                          {"7B q (256x4096->4096)", 256, 4096, 4096}, {"7B gate (256x4096->11008)", 256, 4096, 11008},
                          {"7B down (256x11008->4096)", 256, 11008, 4096},
                          {"tiny decode (1x128->344)", 1, 128, 344}, {"tiny head decode (1x128->512)", 1, 128, 512},
                          {"small decode (1x512->1376)", 1, 512, 1376}, {"tiny train (256x128->344)", 256, 128, 344}};
  CpuBackend be;
  RefBackend widened;  // its bf16 linears widen to fp32 for sgemm
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream strm(eng);
  for (const Shape& s : shapes) {
    const size_t nx = (size_t)s.N * s.IC, nw = (size_t)s.OC * s.IC, no = (size_t)s.N * s.OC;
    std::vector<float> x(nx), wf(nw), out(no), ref(no), wide(no);
    std::vector<bf16> w(nw), xb(nx);
    Rng rng(7);
    for (auto& v : x) v = (float)rng.normal();
    for (size_t i = 0; i < nw; ++i) {
      w[i] = f32_to_bf16((float)rng.normal() * 0.02f);
      wf[i] = bf16_to_f32(w[i]);
    }
    const double flops = 2.0 * s.N * s.IC * s.OC;
    const int reps_here = s.N == 1 ? reps * 100 : reps;
    const double t32 = seconds_per_call([&] {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s.N, s.OC, s.IC, 1.0f, x.data(), s.IC, wf.data(), s.IC,
                  0.0f, out.data(), s.OC);
    }, reps_here);
    const double tbe = seconds_per_call([&] { be.linear_forward_bf16(ref.data(), x.data(), w.data(), s.N, s.IC, s.OC); }, reps_here);
    const double twi = seconds_per_call(
        [&] { widened.linear_forward_bf16(wide.data(), x.data(), w.data(), s.N, s.IC, s.OC); }, reps_here);
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
    }, reps_here);
    double diff = 0, scale = 0;
    for (size_t i = 0; i < no; ++i) {
      diff = std::max(diff, (double)std::fabs(wide[i] - ref[i]));
      scale = std::max(scale, (double)std::fabs(wide[i]));
    }
    std::printf("%-28s %9.0f %9.0f %9.0f %9.0f %8.2fx %9.2fx %10.2g\n", s.name, flops / t32 / 1e9, flops / twi / 1e9,
                flops / tbe / 1e9, flops / tdn / 1e9, t32 / twi, t32 / tbe, diff / scale);
  }
  std::printf("(GFLOP/s; max |diff|: the cpu backend against the widened path, relative to the largest output)\n");
  return 0;
}
