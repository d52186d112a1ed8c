// The MPI gradient reducer: MPI_Iallreduce in place per bucket (fp32 with MPI_SUM; bf16 through a user op that sums
// in fp32 and rounds once), progressed whenever a new blob starts and completed by wait() within the timeout.
#include <mpi.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/check.h"
#include "core/dtype_convert.h"
#include "engine/gradient_reducer.h"

namespace strata {

namespace {

// inout[i] = bf16(float(in[i]) + float(inout[i])): commutative, so both ranks of a pair get the same bits.
void bf16_sum(void* in, void* inout, int* len, MPI_Datatype*) {
  const auto* a = static_cast<const uint16_t*>(in);
  auto* b = static_cast<uint16_t*>(inout);
  for (int i = 0; i < *len; ++i) b[i] = f32_to_bf16(bf16_to_f32(a[i]) + bf16_to_f32(b[i]));
}

class MpiGradientReducer final : public GradientReducer {
 public:
  MpiGradientReducer(const MpiWorld& world, Backend& backend, size_t bucket_bytes)
      : world_(world), backend_(backend), bucket_bytes_(std::max<size_t>(bucket_bytes, 4096)),
        comm_(*static_cast<const MPI_Comm*>(world.comm())) {
    MPI_Op_create(&bf16_sum, 1, &bf16_op_);
  }
  // Requests still pending (an error stopped the step) are left alone: collectives cannot be cancelled, and the job
  // is being aborted.
  ~MpiGradientReducer() override { MPI_Op_free(&bf16_op_); }
  const char* name() const override { return "mpi"; }
  bool ordered_on_stream() const override { return false; }

  void start(void* data, size_t n, DType dtype, int root) override {
    STRATA_CHECK(dtype == DType::F32 || dtype == DType::BF16, "gradient reducer: F32 or BF16 gradients only");
    backend_.stream_synchronize(backend_.compute_stream());  // the kernels that wrote the gradient are done
    const size_t elem = dtype_size(dtype), per = bucket_bytes_ / elem;
    const MPI_Datatype type = dtype == DType::F32 ? MPI_FLOAT : MPI_UINT16_T;
    const MPI_Op op = dtype == DType::F32 ? MPI_SUM : bf16_op_;
    char* p = static_cast<char*>(data);
    for (size_t at = 0; at < n; at += per) {
      const int count = (int)std::min(per, n - at);
      void* buf = p + at * elem;
      MPI_Request r;
      int rc;
      if (root < 0) rc = MPI_Iallreduce(MPI_IN_PLACE, buf, count, type, op, comm_, &r);
      else if (root == world_.rank()) rc = MPI_Ireduce(MPI_IN_PLACE, buf, count, type, op, root, comm_, &r);
      else rc = MPI_Ireduce(buf, nullptr, count, type, op, root, comm_, &r);
      STRATA_USER_CHECK(rc == MPI_SUCCESS, "distributed: the sum of a gradient bucket failed to start");
      pending_.push_back(r);
    }
    bytes_ += n * elem;
    progress();
  }

  void broadcast(void* data, size_t bytes, int root) override {
    backend_.synchronize();  // the optimizer's writes of the new weights are done (copies included)
    char* p = static_cast<char*>(data);
    for (size_t at = 0; at < bytes; at += bucket_bytes_) {
      MPI_Request r;
      const int rc = MPI_Ibcast(p + at, (int)std::min(bucket_bytes_, bytes - at), MPI_BYTE, root, comm_, &r);
      STRATA_USER_CHECK(rc == MPI_SUCCESS, "distributed: the broadcast of new weights failed to start");
      pending_.push_back(r);
    }
    progress();
  }

  void progress() {  // give MPI a chance to move what is in flight
    int flag = 0;
    MPI_Testall((int)pending_.size(), pending_.data(), &flag, MPI_STATUSES_IGNORE);
  }

  void wait() override {
    for (MPI_Request& r : pending_) world_.wait(&r, "the gradient sums", "another rank");
    pending_.clear();
  }

 private:
  const MpiWorld& world_;
  Backend& backend_;
  size_t bucket_bytes_;
  MPI_Comm comm_;
  MPI_Op bf16_op_ = MPI_OP_NULL;
  std::vector<MPI_Request> pending_;
};

}  // namespace

std::unique_ptr<GradientReducer> make_mpi_reducer(const MpiWorld& world, Backend& backend, size_t bucket_bytes) {
  return std::make_unique<MpiGradientReducer>(world, backend, bucket_bytes);
}

}  // namespace strata
