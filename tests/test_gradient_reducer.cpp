// The NCCL gradient reducer on one GPU: a communicator of one rank (the device check's cuda:0 case; it skips where
// no device is). The sums over one rank leave fp32 and bf16 gradients as they are, as do a reduce to rank 0 and a
// broadcast from it; the calls themselves (libnccl loaded at run time, ncclCommInitRank, ncclAllReduce, ncclReduce,
// ncclBroadcast on the compute stream) are what is checked. The MPI reducer runs under mpirun in Cli.DataParallel.
#include <gtest/gtest.h>

#include <vector>

#include "core/dtype_convert.h"
#include "engine/gradient_reducer.h"
#include "tests/support/backends.h"

namespace strata {
namespace {

class NcclReducer : public ::testing::TestWithParam<std::string> {};

TEST_P(NcclReducer, OneRankSumsReducesAndBroadcastsInPlace) {
  std::string why;
  auto be = test::make_backend_if_available(GetParam(), &why);
  if (!be) GTEST_SKIP() << why;
  if (!nccl_in_this_build()) GTEST_SKIP() << "this build has no NCCL header (no CUDA toolkit)";
  auto reducer = make_nccl_reducer(NcclGroup{}, *be);
  ASSERT_NE(reducer, nullptr);
  EXPECT_STREQ(reducer->name(), "nccl");
  const size_t n = 3000;
  std::vector<float> f(n);
  std::vector<bf16> h(n);
  for (size_t i = 0; i < n; ++i) {
    f[i] = 0.001f * (float)i - 1.5f;
    h[i] = f32_to_bf16(f[i] * 3.0f);
  }
  Buffer df = be->alloc(MemoryKind::Device, n * sizeof(float), MemoryCategory::Grads);
  Buffer dh = be->alloc(MemoryKind::Device, n * sizeof(bf16), MemoryCategory::Grads);
  be->copy(df.data(), f.data(), n * sizeof(float));
  be->copy(dh.data(), h.data(), n * sizeof(bf16));
  reducer->new_step();
  reducer->start(df.data(), n, DType::F32);
  reducer->start(dh.data(), n, DType::BF16, /*root=*/0);
  reducer->broadcast(df.data(), n * sizeof(float), 0);
  reducer->wait();
  EXPECT_EQ(reducer->bytes_this_step(), n * (sizeof(float) + sizeof(bf16)));
  std::vector<float> f2(n);
  std::vector<bf16> h2(n);
  be->copy(f2.data(), df.data(), n * sizeof(float));
  be->copy(h2.data(), dh.data(), n * sizeof(bf16));
  EXPECT_EQ(f2, f);
  EXPECT_EQ(h2, h);
}

INSTANTIATE_TEST_SUITE_P(Gpu, NcclReducer, ::testing::Values(std::string("cuda:0")),
                         [](const auto& info) { return test::backend_id(info.param); });

}  // namespace
}  // namespace strata
