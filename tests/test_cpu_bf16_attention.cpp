// The CPU backend's bf16-unit attention (cpu_attention_bf16.cpp) computes what the CUDA tensor-core kernels compute
// (bf16 q, k, v, P, dO, dS operands; fp32 sums): checked against the emulated CUDA device call by call, on shapes
// with partial query blocks, GQA groups and several sequences, forward and backward, accumulating into gradients.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "backend/backend_registry.h"
#include "backend/cpu/cpu_attention_bf16.h"
#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/cpu_onednn_gemm.h"
#include "tests/support/tensor_compare.h"

namespace strata::test {
namespace {

struct AttentionRun {
  std::vector<float> out, lse, dq, dk, dv;
};

// Forward, then backward on backend `name` from seeded inputs. The backward is given `given` (out, lse) when set, so
// that two backends' backwards see the same forward; dq/dk/dv start from seeded values (the op adds to them).
AttentionRun run_attention(std::unique_ptr<Backend> be, const AttentionShape& s, const AttentionRun* given = nullptr) {
  const size_t nq = (size_t)s.B * s.T * s.NH * s.HS, nkv = (size_t)s.B * s.T * s.NKV * s.HS,
               nl = (size_t)s.B * s.NH * s.T;
  Buffer q = upload(*be, random_vector(nq, 1)), k = upload(*be, random_vector(nkv, 2)),
         v = upload(*be, random_vector(nkv, 3)), dout = upload(*be, random_vector(nq, 4));
  Buffer out = upload(*be, std::vector<float>(nq)), lse = upload(*be, std::vector<float>(nl));
  Buffer dq = upload(*be, random_vector(nq, 5, 0.1f)), dk = upload(*be, random_vector(nkv, 6, 0.1f)),
         dv = upload(*be, random_vector(nkv, 7, 0.1f));
  be->attention_forward(out.as<float>(), lse.as<float>(), q.as<float>(), k.as<float>(), v.as<float>(), s);
  be->synchronize();
  AttentionRun r;
  r.out = download(*be, out.as<float>(), nq);
  r.lse = download(*be, lse.as<float>(), nl);
  Buffer out_used = upload(*be, given ? given->out : r.out), lse_used = upload(*be, given ? given->lse : r.lse);
  be->attention_backward(dq.as<float>(), dk.as<float>(), dv.as<float>(), dout.as<float>(), q.as<float>(),
                         k.as<float>(), v.as<float>(), out_used.as<float>(), lse_used.as<float>(), s);
  be->synchronize();
  r.dq = download(*be, dq.as<float>(), nq);
  r.dk = download(*be, dk.as<float>(), nkv);
  r.dv = download(*be, dv.as<float>(), nkv);
  return r;
}

class CpuBf16Attention : public ::testing::TestWithParam<AttentionShape> {};

TEST_P(CpuBf16Attention, EqualsTheCudaTensorCoreSemantics) {
  if (!OneDnnGemm::native())
    GTEST_SKIP() << "this CPU has no bf16 units (oneDNN ISA below avx512_core_bf16): the cpu backend keeps exact fp32 "
                    "attention on rounded q/k/v there";
  AttentionShape s = GetParam();
  s.bf16_inputs = true;
  // The cpu backend does 1 MiB of sequences at a time here (0.43 MB each at B = 3, T = 64: chunks of 2 and 1;
  // 3.4 MB at T = 256: three chunks of one), as long sequences do with the default 64 MiB target.
  const AttentionRun cpu = run_attention(std::make_unique<CpuBackend>(size_t{1} << 20), s),
                     emu = run_attention(make_backend("cuda-emu"), s, &cpu);
  // Same operands and roundings; the fp32 summation order differs, which flips a bf16 rounding of P or dS now and
  // then: far below the 2^-9 of the roundings themselves (~2e-3 against the exact attention). The forward's output
  // differs more past one 64-key tile: the CUDA kernel rounds exp(x - running max) tile by tile and rescales, this
  // one rounds exp(x - row max) once. The backwards are given the same forward (cpu's), so they agree closely.
  const double out_bound = s.T <= 64 ? 2e-5 : 1e-3;
  const struct {
    const char* name;
    const std::vector<float>&a, &b;
    double bound;
  } checks[] = {{"out", cpu.out, emu.out, out_bound}, {"lse", cpu.lse, emu.lse, 1e-6}, {"dq", cpu.dq, emu.dq, 5e-5},
                {"dk", cpu.dk, emu.dk, 5e-5},         {"dv", cpu.dv, emu.dv, 5e-5}};
  for (const auto& c : checks) {
    const ErrorStats e = compare(c.a.data(), c.b.data(), c.a.size());
    EXPECT_TRUE(e.finite) << c.name;
    EXPECT_LE(e.rel_l2, c.bound) << c.name << ": " << e.describe();
    std::printf("  B=%d T=%d NH=%d NKV=%d HS=%d %-3s cpu vs cuda-emu rel_l2 %.2e\n", s.B, s.T, s.NH, s.NKV, s.HS,
                c.name, e.rel_l2);
  }
}

// A matmul on oneDNN's reference implementation would be orders of magnitude slower (a layout it does not take):
// every matmul of the attention runs on a JIT kernel, for the `small` preset and a LLaMA-2-7B shape.
TEST(CpuBf16AttentionMatmuls, NoneRunsOnAReferenceImplementation) {
  if (!OneDnnGemm::native()) GTEST_SKIP() << "this CPU has no bf16 units: the bf16-unit attention does not run";
  for (const AttentionShape& s : {AttentionShape{4, 256, 8, 4, 64, true}, AttentionShape{1, 200, 32, 32, 128, true}}) {
    const std::vector<std::string> impls = bf16_attention_implementations(s);
    ASSERT_EQ(impls.size(), (size_t)6 * ((s.T + 63) / 64));
    for (const std::string& i : impls) EXPECT_EQ(i.find("ref"), std::string::npos) << i;
  }
}

std::string shape_name(const ::testing::TestParamInfo<AttentionShape>& i) {
  const AttentionShape& s = i.param;
  return "B" + std::to_string(s.B) + "_T" + std::to_string(s.T) + "_H" + std::to_string(s.NH) + "_" +
         std::to_string(s.NKV) + "_HS" + std::to_string(s.HS);
}

// T = 70 and 130: partial last query blocks; NH/NKV = 2 and 3: GQA groups; HS 64 and 128: the CUDA kernel's sizes;
// B = 3 at T = 256: four query blocks, and one sequence per chunk.
INSTANTIATE_TEST_SUITE_P(Shapes, CpuBf16Attention,
                         ::testing::Values(AttentionShape{2, 70, 4, 2, 64, true}, AttentionShape{1, 130, 2, 2, 128, true},
                                           AttentionShape{3, 64, 6, 2, 64, true}, AttentionShape{2, 1, 4, 4, 64, true},
                                           AttentionShape{3, 256, 8, 4, 64, true}),
                         shape_name);

}  // namespace
}  // namespace strata::test
