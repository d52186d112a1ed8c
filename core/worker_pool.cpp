// WorkerPool: threads pop jobs from a mutex-guarded FIFO queue; submit() wraps a job in a packaged task so that its
// exception travels through the future.
#include "core/worker_pool.h"

#include <memory>
#include <utility>

namespace strata {

WorkerPool::WorkerPool(int threads) {
  const int n = threads > 0 ? threads : 1;
  threads_.reserve(static_cast<size_t>(n));
  try {
    for (int i = 0; i < n; ++i) threads_.emplace_back([this] { run(); });
  } catch (...) {
    stop_and_join();
    throw;
  }
}

WorkerPool::~WorkerPool() { stop_and_join(); }

void WorkerPool::stop_and_join() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : threads_) t.join();
}

std::future<void> WorkerPool::submit(std::function<void()> job) {
  auto task = std::make_shared<std::packaged_task<void()>>(std::move(job));  // std::function needs a copyable job
  std::future<void> done = task->get_future();
  post([task] { (*task)(); });
  return done;
}

void WorkerPool::post(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(job));
  }
  cv_.notify_one();
}

void WorkerPool::run() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left to run
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    job();
  }
}

}  // namespace strata
