// The NCCL gradient reducer (CUDA builds with NCCL): one communicator per run, its unique id broadcast over MPI;
// each gradient tensor is summed in place by ncclAllReduce on the backend's compute stream, so the optimizer, queued
// after it on that stream, sees the sums without a host wait. Without NCCL in the build it is absent (null).
#include "engine/gradient_reducer.h"

#include "core/check.h"

#ifdef STRATA_HAVE_NCCL
#include <cuda_runtime.h>
#include <mpi.h>
#include <nccl.h>

namespace strata {

namespace {

void check_nccl(ncclResult_t rc, const char* what) {
  STRATA_USER_CHECK(rc == ncclSuccess, std::string("distributed: ") + what + " failed: " + ncclGetErrorString(rc));
}

class NcclGradientReducer final : public GradientReducer {
 public:
  NcclGradientReducer(const MpiWorld& world, Backend& backend)
      : stream_(static_cast<cudaStream_t>(backend.compute_stream().handle())) {
    ncclUniqueId id{};
    if (world.rank() == 0) check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
    const MPI_Comm comm = *static_cast<const MPI_Comm*>(world.comm());
    STRATA_USER_CHECK(MPI_Bcast(&id, (int)sizeof id, MPI_BYTE, 0, comm) == MPI_SUCCESS,
                      "distributed: broadcasting the NCCL id failed");
    check_nccl(ncclCommInitRank(&comm_, world.size(), id, world.rank()), "ncclCommInitRank");
  }
  ~NcclGradientReducer() override {
    if (comm_) ncclCommDestroy(comm_);
  }
  const char* name() const override { return "nccl"; }
  void start(void* data, size_t n, DType dtype) override {
    STRATA_CHECK(dtype == DType::F32 || dtype == DType::BF16, "gradient reducer: F32 or BF16 gradients only");
    check_nccl(ncclAllReduce(data, data, n, dtype == DType::F32 ? ncclFloat : ncclBfloat16, ncclSum, comm_, stream_),
               "ncclAllReduce");
    bytes_ += n * dtype_size(dtype);
  }
  void wait() override {
    ncclResult_t async = ncclSuccess;
    check_nccl(ncclCommGetAsyncError(comm_, &async), "ncclCommGetAsyncError");
    check_nccl(async, "an NCCL all-reduce");
  }

 private:
  cudaStream_t stream_;
  ncclComm_t comm_ = nullptr;
};

}  // namespace

std::unique_ptr<GradientReducer> make_nccl_reducer(const MpiWorld& world, Backend& backend) {
  return std::make_unique<NcclGradientReducer>(world, backend);
}

}  // namespace strata

#else

namespace strata {
std::unique_ptr<GradientReducer> make_nccl_reducer(const MpiWorld&, Backend&) { return nullptr; }
}  // namespace strata

#endif
