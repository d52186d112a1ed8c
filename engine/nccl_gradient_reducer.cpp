// The NCCL gradient reducer (CUDA builds): NCCL is loaded at run time (dlopen of libnccl.so.2, from the CUDA
// toolkit or the system), so the executable starts on machines without it; one communicator per run, its unique id
// broadcast over MPI; each gradient tensor is summed in place by ncclAllReduce on the backend's compute stream, so
// the optimizer, queued after it on that stream, sees the sums without a host wait.
#include "engine/gradient_reducer.h"

#include "core/check.h"

#ifdef STRATA_HAVE_NCCL
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <nccl.h>

namespace strata {

namespace {

// The NCCL entry points this reducer calls, resolved from the shared library; closed on destruction.
struct NcclLibrary {
  void* handle = nullptr;
  decltype(&ncclGetUniqueId) get_unique_id = nullptr;
  decltype(&ncclCommInitRank) comm_init_rank = nullptr;
  decltype(&ncclAllReduce) all_reduce = nullptr;
  decltype(&ncclReduce) reduce = nullptr;
  decltype(&ncclBroadcast) broadcast = nullptr;
  decltype(&ncclCommDestroy) comm_destroy = nullptr;
  decltype(&ncclCommGetAsyncError) async_error = nullptr;
  decltype(&ncclGetErrorString) error_string = nullptr;

  NcclLibrary() {
    for (const char* name : {"libnccl.so.2", "libnccl.so"})
      if ((handle = dlopen(name, RTLD_NOW | RTLD_LOCAL))) break;
    STRATA_USER_CHECK(handle, "distributed: memory.backend is a GPU but NCCL (libnccl.so.2) cannot be loaded: " +
                                  std::string(dlerror()) + "; add the CUDA toolkit's lib64 to LD_LIBRARY_PATH");
    resolve(get_unique_id, "ncclGetUniqueId");
    resolve(comm_init_rank, "ncclCommInitRank");
    resolve(all_reduce, "ncclAllReduce");
    resolve(reduce, "ncclReduce");
    resolve(broadcast, "ncclBroadcast");
    resolve(comm_destroy, "ncclCommDestroy");
    resolve(async_error, "ncclCommGetAsyncError");
    resolve(error_string, "ncclGetErrorString");
  }
  ~NcclLibrary() {
    if (handle) dlclose(handle);
  }
  NcclLibrary(const NcclLibrary&) = delete;
  NcclLibrary& operator=(const NcclLibrary&) = delete;

  template <class F>
  void resolve(F& f, const char* symbol) {
    f = reinterpret_cast<F>(dlsym(handle, symbol));
    STRATA_USER_CHECK(f, std::string("distributed: libnccl has no ") + symbol + " (NCCL 2.x is needed)");
  }
  void check(ncclResult_t rc, const char* what) const {
    STRATA_USER_CHECK(rc == ncclSuccess, std::string("distributed: ") + what + " failed: " + error_string(rc));
  }
};

class NcclGradientReducer final : public GradientReducer {
 public:
  NcclGradientReducer(const NcclGroup& group, Backend& backend)
      : stream_(static_cast<cudaStream_t>(backend.compute_stream().handle())) {
    ncclUniqueId id{};
    if (group.rank == 0) nccl_.check(nccl_.get_unique_id(&id), "ncclGetUniqueId");
    if (group.broadcast_id) group.broadcast_id(&id, sizeof id);
    nccl_.check(nccl_.comm_init_rank(&comm_, group.size, id, group.rank), "ncclCommInitRank");
  }
  ~NcclGradientReducer() override {
    if (comm_) nccl_.comm_destroy(comm_);
  }
  const char* name() const override { return "nccl"; }
  bool ordered_on_stream() const override { return true; }
  void start(void* data, size_t n, DType dtype, int root) override {
    STRATA_CHECK(dtype == DType::F32 || dtype == DType::BF16, "gradient reducer: F32 or BF16 gradients only");
    const ncclDataType_t type = dtype == DType::F32 ? ncclFloat : ncclBfloat16;
    if (root < 0) nccl_.check(nccl_.all_reduce(data, data, n, type, ncclSum, comm_, stream_), "ncclAllReduce");
    else nccl_.check(nccl_.reduce(data, data, n, type, ncclSum, root, comm_, stream_), "ncclReduce");
    bytes_ += n * dtype_size(dtype);
  }
  void broadcast(void* data, size_t bytes, int root) override {
    nccl_.check(nccl_.broadcast(data, data, bytes, ncclUint8, root, comm_, stream_), "ncclBroadcast");
  }
  void wait() override {
    ncclResult_t async = ncclSuccess;
    nccl_.check(nccl_.async_error(comm_, &async), "ncclCommGetAsyncError");
    nccl_.check(async, "an NCCL all-reduce");
  }

 private:
  NcclLibrary nccl_;
  cudaStream_t stream_;
  ncclComm_t comm_ = nullptr;
};

}  // namespace

std::unique_ptr<GradientReducer> make_nccl_reducer(const NcclGroup& group, Backend& backend) {
  return std::make_unique<NcclGradientReducer>(group, backend);
}
bool nccl_in_this_build() { return true; }

}  // namespace strata

#else

namespace strata {
std::unique_ptr<GradientReducer> make_nccl_reducer(const NcclGroup&, Backend&) { return nullptr; }
bool nccl_in_this_build() { return false; }
}  // namespace strata

#endif
