// MpiWorld: the ranks of a data-parallel run started by mpirun (MPI_Init on construction, MPI_Finalize on
// destruction), and the small host-side collectives the trainer needs, each bounded by a timeout that names the
// rank which did not arrive instead of hanging.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace strata {

class MpiWorld {
 public:
  // True when this process was started by an MPI launcher (mpirun / mpiexec set OMPI_COMM_WORLD_SIZE, PMI_SIZE or
  // PMIX_RANK): only then is MPI initialised at all.
  static bool launched_by_mpi();
  // Initialises MPI (thread level "funneled": only the main thread calls MPI).
  MpiWorld();
  ~MpiWorld();
  MpiWorld(const MpiWorld&) = delete;
  MpiWorld& operator=(const MpiWorld&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  int local_rank() const { return local_rank_; }  // rank among the processes of this machine (its GPU)
  std::string host() const { return host_; }

  // Seconds a collective may wait for the other ranks before it fails naming them (distributed.timeout_s).
  void set_timeout(double seconds) const { timeout_s_ = seconds; }  // from the run config
  double timeout() const { return timeout_s_; }

  // Every rank's value, in rank order. `what` names the exchange in a timeout error ("the config check").
  std::vector<uint64_t> all_gather(uint64_t value, const std::string& what) const;
  std::vector<double> all_gather(double value, const std::string& what) const;
  // The step handshake: every rank reports (step, wants_stop) to rank 0, which answers with the OR of the stop
  // flags. Rank 0 names each rank that does not report within the timeout; the others name rank 0.
  bool agree_to_stop(int step, bool wants_stop) const;
  void barrier(const std::string& what) const;
  // `bytes` at `data` from rank `root` to every rank (the NCCL unique id).
  void broadcast(void* data, size_t bytes, int root, const std::string& what) const;
  // Element-wise sum over the ranks, in place (per-blob values that exactly one rank holds: exact).
  void sum_all(std::vector<double>& values, const std::string& what) const;
  // Element-wise maximum over the ranks, in place (the optimizer step counts of a sharded state).
  void max_all(std::vector<int64_t>& values, const std::string& what) const;
  // Point-to-point bytes (the sharded optimizer state gathered for rank 0's checkpoint). recv waits at most
  // `patience` x the timeout: the sender may be writing a large checkpoint in between.
  void send(const void* data, size_t bytes, int to, int tag, const std::string& what) const;
  void recv(void* data, size_t bytes, int from, int tag, const std::string& what, double patience = 1) const;
  // Ends every rank of the job (after this one printed its error): MPI_Abort.
  [[noreturn]] void abort(int code) const;
  // Completes a started request (an MPI_Request*) within the timeout; throws naming `who` and `what` when it runs
  // out (the gradient reducer's requests go through here too).
  void wait(void* request, const std::string& what, const std::string& who) const;

  // The communicator (an MPI_Comm) for the gradient reducers, behind an untyped pointer so that users of this
  // header need no mpi.h: `*static_cast<const MPI_Comm*>(world.comm())`.
  const void* comm() const;

 private:
  struct Impl;

  void serve_pings() const;
  // The ranks that do not answer a liveness ping within a few seconds (while this one answers theirs).
  std::vector<int> unresponsive_ranks() const;

  int rank_ = 0, size_ = 1, local_rank_ = 0;
  int pong_token_ = 1;
  std::string host_;
  mutable double timeout_s_ = 300;
  std::unique_ptr<Impl> impl_;  // the MPI_Comm: a duplicate of MPI_COMM_WORLD
};

}  // namespace strata
