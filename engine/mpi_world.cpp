// MpiWorld: MPI set-up and teardown, and host collectives started non-blocking and completed by a polling wait with
// a deadline, so a rank that hangs or died is named in an error (and the job aborted) rather than waited for forever.
#include "engine/mpi_world.h"

#include <mpi.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "core/check.h"

namespace strata {

struct MpiWorld::Impl {
  MPI_Comm comm = MPI_COMM_NULL;
};

namespace {
constexpr int kStepTag = 7101, kAnswerTag = 7102, kPingTag = 7103, kPongTag = 7104;
constexpr double kPingGraceSeconds = 3;

void check_mpi(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  STRATA_USER_FAIL(std::string("distributed: ") + what + " failed: " + std::string(msg, (size_t)len));
}
}  // namespace

bool MpiWorld::launched_by_mpi() {
  return std::getenv("OMPI_COMM_WORLD_SIZE") || std::getenv("PMI_SIZE") || std::getenv("PMIX_RANK");
}

MpiWorld::MpiWorld() : impl_(std::make_unique<Impl>()) {
  int provided = 0;
  check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  check_mpi(MPI_Comm_dup(MPI_COMM_WORLD, &impl_->comm), "MPI_Comm_dup");
  MPI_Comm_set_errhandler(impl_->comm, MPI_ERRORS_RETURN);
  MPI_Comm_rank(impl_->comm, &rank_);
  MPI_Comm_size(impl_->comm, &size_);
  MPI_Comm local;
  check_mpi(MPI_Comm_split_type(impl_->comm, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local), "MPI_Comm_split_type");
  MPI_Comm_rank(local, &local_rank_);
  MPI_Comm_free(&local);
  char name[MPI_MAX_PROCESSOR_NAME];
  int len = 0;
  MPI_Get_processor_name(name, &len);
  host_.assign(name, (size_t)len);
}

MpiWorld::~MpiWorld() {
  if (impl_->comm != MPI_COMM_NULL) MPI_Comm_free(&impl_->comm);
  MPI_Finalize();
}

const void* MpiWorld::comm() const { return &impl_->comm; }

// Answers the liveness pings of other ranks (a rank that timed out asks who is still there): every rank waiting in a
// collective answers, so the one that does not is the one that hangs or died.
void MpiWorld::serve_pings() const {
  for (;;) {
    int flag = 0;
    MPI_Status st;
    MPI_Iprobe(MPI_ANY_SOURCE, kPingTag, impl_->comm, &flag, &st);
    if (!flag) return;
    int token = 0;
    MPI_Recv(&token, 1, MPI_INT, st.MPI_SOURCE, kPingTag, impl_->comm, MPI_STATUS_IGNORE);
    MPI_Request r;
    MPI_Isend(&pong_token_, 1, MPI_INT, st.MPI_SOURCE, kPongTag, impl_->comm, &r);
    MPI_Request_free(&r);
  }
}

std::vector<int> MpiWorld::unresponsive_ranks() const {
  std::vector<int> tokens((size_t)size_, 0);
  std::vector<MPI_Request> recv((size_t)size_, MPI_REQUEST_NULL);
  const int ping = 1;
  for (int r = 0; r < size_; ++r) {
    if (r == rank_) continue;
    MPI_Request s;
    MPI_Isend(&ping, 1, MPI_INT, r, kPingTag, impl_->comm, &s);
    MPI_Request_free(&s);
    MPI_Irecv(&tokens[r], 1, MPI_INT, r, kPongTag, impl_->comm, &recv[r]);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(kPingGraceSeconds);
  std::vector<int> silent;
  while (std::chrono::steady_clock::now() < deadline) {
    serve_pings();
    int all = 0;
    MPI_Testall(size_, recv.data(), &all, MPI_STATUSES_IGNORE);
    if (all) return silent;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  for (int r = 0; r < size_; ++r) {
    int done = 1;
    if (recv[r] != MPI_REQUEST_NULL) MPI_Test(&recv[r], &done, MPI_STATUS_IGNORE);
    if (!done) silent.push_back(r);
  }
  return silent;
}

void MpiWorld::wait(void* request, const std::string& what, const std::string& who) const {
  MPI_Request* r = static_cast<MPI_Request*>(request);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s_);
  for (;;) {
    int done = 0;
    check_mpi(MPI_Test(r, &done, MPI_STATUS_IGNORE), what.c_str());
    if (done) return;
    serve_pings();
    if (std::chrono::steady_clock::now() > deadline) {
      std::string named = who;
      const std::vector<int> silent = unresponsive_ranks();
      if (!silent.empty()) {
        named = silent.size() == 1 ? "rank " : "ranks ";
        for (size_t i = 0; i < silent.size(); ++i) named += (i ? ", " : "") + std::to_string(silent[i]);
      }
      STRATA_USER_FAIL("distributed: waited " + std::to_string((int)timeout_s_) + " s in " + what + " (distributed.timeout_s) and " + named + " did not respond" +
                       (silent.empty() ? "" : " to a liveness check either") +
                       ": it hangs or has died; stopping every rank");
    }
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

std::vector<uint64_t> MpiWorld::all_gather(uint64_t value, const std::string& what) const {
  std::vector<uint64_t> all((size_t)size_);
  MPI_Request r;
  check_mpi(MPI_Iallgather(&value, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, impl_->comm, &r), what.c_str());
  wait(&r, what, "another rank");
  return all;
}

std::vector<double> MpiWorld::all_gather(double value, const std::string& what) const {
  std::vector<double> all((size_t)size_);
  MPI_Request r;
  check_mpi(MPI_Iallgather(&value, 1, MPI_DOUBLE, all.data(), 1, MPI_DOUBLE, impl_->comm, &r), what.c_str());
  wait(&r, what, "another rank");
  return all;
}

bool MpiWorld::agree_to_stop(int step, bool wants_stop) const {
  const std::string what = "the handshake before step " + std::to_string(step + 1);
  int mine[2] = {step, wants_stop ? 1 : 0};
  int answer = 0;
  if (rank_ == 0) {
    answer = mine[1];
    std::vector<int> got(2 * (size_t)size_);
    std::vector<MPI_Request> reqs((size_t)size_);
    for (int r = 1; r < size_; ++r)
      check_mpi(MPI_Irecv(&got[2 * r], 2, MPI_INT, r, kStepTag, impl_->comm, &reqs[r]), what.c_str());
    for (int r = 1; r < size_; ++r) {
      wait(&reqs[r], what, "rank " + std::to_string(r));
      STRATA_USER_CHECK(got[2 * r] == step, "distributed: rank " + std::to_string(r) + " is at step " +
                                                std::to_string(got[2 * r]) + ", rank 0 at step " +
                                                std::to_string(step) + ": the ranks diverged; stopping every rank");
      answer |= got[2 * r + 1];
    }
    for (int r = 1; r < size_; ++r) {
      MPI_Request s;
      check_mpi(MPI_Isend(&answer, 1, MPI_INT, r, kAnswerTag, impl_->comm, &s), what.c_str());
      wait(&s, what, "rank " + std::to_string(r));
    }
  } else {
    MPI_Request s, a;
    check_mpi(MPI_Isend(mine, 2, MPI_INT, 0, kStepTag, impl_->comm, &s), what.c_str());
    check_mpi(MPI_Irecv(&answer, 1, MPI_INT, 0, kAnswerTag, impl_->comm, &a), what.c_str());
    wait(&s, what, "rank 0");
    wait(&a, what, "rank 0");
  }
  return answer != 0;
}

void MpiWorld::broadcast(void* data, size_t bytes, int root, const std::string& what) const {
  MPI_Request r;
  check_mpi(MPI_Ibcast(data, (int)bytes, MPI_BYTE, root, impl_->comm, &r), what.c_str());
  wait(&r, what, "rank " + std::to_string(root));
}

void MpiWorld::sum_all(std::vector<double>& values, const std::string& what) const {
  MPI_Request r;
  check_mpi(MPI_Iallreduce(MPI_IN_PLACE, values.data(), (int)values.size(), MPI_DOUBLE, MPI_SUM, impl_->comm, &r),
            what.c_str());
  wait(&r, what, "another rank");
}

void MpiWorld::max_all(std::vector<int64_t>& values, const std::string& what) const {
  MPI_Request r;
  check_mpi(MPI_Iallreduce(MPI_IN_PLACE, values.data(), (int)values.size(), MPI_INT64_T, MPI_MAX, impl_->comm, &r),
            what.c_str());
  wait(&r, what, "another rank");
}

void MpiWorld::send(const void* data, size_t bytes, int to, int tag, const std::string& what) const {
  MPI_Request r;
  check_mpi(MPI_Isend(data, (int)bytes, MPI_BYTE, to, tag, impl_->comm, &r), what.c_str());
  wait(&r, what, "rank " + std::to_string(to));
}

void MpiWorld::recv(void* data, size_t bytes, int from, int tag, const std::string& what, double patience) const {
  MPI_Request r;
  check_mpi(MPI_Irecv(data, (int)bytes, MPI_BYTE, from, tag, impl_->comm, &r), what.c_str());
  const double saved = timeout_s_;
  timeout_s_ = saved * patience;
  try {
    wait(&r, what, "rank " + std::to_string(from));
  } catch (...) {
    timeout_s_ = saved;
    throw;
  }
  timeout_s_ = saved;
}

void MpiWorld::barrier(const std::string& what) const {
  MPI_Request r;
  check_mpi(MPI_Ibarrier(impl_->comm, &r), what.c_str());
  wait(&r, what, "another rank");
}

void MpiWorld::abort(int code) const { MPI_Abort(impl_->comm, code); std::_Exit(code); }

}  // namespace strata
