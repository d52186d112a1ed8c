// GradientReducer: sums the trained blobs' gradients over the ranks of a data-parallel run, each blob started as
// soon as backward has finished it (so the sum overlaps the backward of the blocks below) in buckets of at most
// `bucket_bytes`, all completed by wait(). MPI collectives where the host can read the gradients (cpu, ref, cuda-emu);
// NCCL on a GPU.
#pragma once
#include <cstddef>
#include <functional>
#include <memory>

#include "backend/backend.h"
#include "core/dtype.h"
#include "engine/mpi_world.h"

namespace strata {

class GradientReducer {
 public:
  virtual ~GradientReducer() = default;
  virtual const char* name() const = 0;
  // True when the sums are queued on the backend's compute stream (NCCL): work queued after them sees them, so the
  // host optimizer may start its gradient copies at once; false when they complete on the host in wait() (MPI).
  virtual bool ordered_on_stream() const = 0;
  // Starts the in-place sum of n values of `dtype` (F32 or BF16) at `data` (backend Device memory) over the ranks.
  // Every rank gets the same bits (a sum of two values is commutative; more ranks: see the README). root >= 0: only
  // that rank needs the sum (a reduce, for the owner of a sharded optimizer state); the others' values are left as
  // they are.
  virtual void start(void* data, size_t n, DType dtype, int root = -1) = 0;
  // Starts sending `bytes` at `data` (Device memory) from rank `root` to every other rank (the new weights of a blob
  // whose optimizer state `root` holds). Completed by wait().
  virtual void broadcast(void* data, size_t bytes, int root) = 0;
  // Completes every sum started: the values are ready for the optimizer (on the host, or ordered on the compute
  // stream for NCCL). Bounded by distributed.timeout_s on the MPI path.
  virtual void wait() = 0;
  size_t bytes_this_step() const { return bytes_; }
  void new_step() { bytes_ = 0; }

 protected:
  size_t bytes_ = 0;
};

std::unique_ptr<GradientReducer> make_mpi_reducer(const MpiWorld& world, Backend& backend, size_t bucket_bytes);

// Who takes part in an NCCL communicator, and how rank 0's unique id reaches the others (MPI in a run; nothing for
// one rank, as the device check's test does).
struct NcclGroup {
  int rank = 0, size = 1;
  std::function<void(void* id, size_t bytes)> broadcast_id;  // from rank 0 to every rank; empty for one rank
};
// NCCL on the backend's compute stream (CUDA builds: libnccl.so.2 loaded at run time); null when this build has no
// NCCL. Throws a UserError naming the library when it cannot be loaded.
std::unique_ptr<GradientReducer> make_nccl_reducer(const NcclGroup& group, Backend& backend);
bool nccl_in_this_build();

}  // namespace strata
