// WorkerPool: a fixed set of std::threads running submitted jobs in FIFO order; submit() returns a future that
// delivers the job's completion or its exception, post() is fire-and-forget. The destructor finishes the queued jobs
// and joins.
#pragma once
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

namespace strata {

class WorkerPool {
 public:
  // `threads` < 1 means 1. Throws (after joining the threads already started) if a thread cannot be started.
  explicit WorkerPool(int threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `job`; the future rethrows its exception.
  std::future<void> submit(std::function<void()> job);
  // Queues `job` with no future, for jobs that report their own completion and errors (the offload tiers finish
  // their tickets from inside the job). An exception escaping a posted job terminates the program.
  void post(std::function<void()> job);
  int size() const { return static_cast<int>(threads_.size()); }

 private:
  void run();
  void stop_and_join();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace strata
