// Blocks as fibers (Boost.Context): every thread of a block is a fiber with its own guarded stack, run on the host
// thread that executes the launch. A fiber runs until it reaches a barrier or ends; when every live fiber waits, the
// scheduler releases a complete warp (warp-collective operations) or the whole block (__syncthreads). The order in
// which waiting fibers resume is the device's ThreadOrder; shared memory is refilled with NaN for every block.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/context/fiber.hpp>
#include <cstring>
#include <exception>
#include <map>
#include <numeric>
#include <random>
#include <stdexcept>
#include <vector>

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/emulation/emu_launch.h"

namespace strata::cuda_emu {
namespace {

constexpr size_t kStackBytes = size_t{64} << 10;  // per thread; the flash kernels' wmma fragments need < 40 KiB
constexpr size_t kStaticSharedBytes = 16 << 10;    // room for STRATA_SHARED arrays, after the dynamic bytes
constexpr int kWarp = 32;

enum class FiberState { Ready, AtBlockBarrier, AtWarpBarrier, Done };

namespace ctx = boost::context;

struct Fiber {
  ctx::fiber self;  // resumed by the scheduler
  ctx::fiber sink;  // the suspended scheduler, resumed to yield
  ThreadState state;
  int warp = 0, lane = 0;
  uint64_t shuffles = 0;     // warp exchanges this thread has taken part in
  uint64_t collectives = 0;  // warp_collective_result calls
  FiberState st = FiberState::Ready;
};

// Stacks for the fibers of one host thread, each above a PROT_NONE guard page (a stack overflow faults).
class StackPool {
 public:
  ~StackPool() {
    if (base_) ::munmap(base_, stride_ * count_);
  }
  char* stack(int i) { return static_cast<char*>(base_) + stride_ * (size_t)i + page_; }
  void reserve(int n) {
    if (n <= count_) return;
    if (base_) ::munmap(base_, stride_ * count_);
    page_ = (size_t)::sysconf(_SC_PAGESIZE);
    stride_ = kStackBytes + page_;
    base_ = ::mmap(nullptr, stride_ * (size_t)n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (base_ == MAP_FAILED) throw std::runtime_error("cannot map fiber stacks for " + std::to_string(n) + " threads");
    for (int i = 0; i < n; ++i) ::mprotect(static_cast<char*>(base_) + stride_ * (size_t)i, page_, PROT_NONE);
    count_ = n;
  }

 private:
  void* base_ = nullptr;
  size_t stride_ = 0, page_ = 0;
  int count_ = 0;
};

// Hands Boost.Context one of the pool's stacks (never freed by it: the pool owns them).
struct PooledStack {
  char* base;
  ctx::stack_context allocate() {
    ctx::stack_context sc;
    sc.size = kStackBytes;
    sc.sp = base + kStackBytes;
    return sc;
  }
  void deallocate(ctx::stack_context&) noexcept {}
};

struct Settings {
  ThreadOrder order = ThreadOrder::Forward;
  uint64_t seed = 1;
};
Settings& settings() {
  static Settings s;  // part of the emulated device (set by the backend's name: cuda-emu, cuda-emu:reverse, ...)
  return s;
}

// The block being run on this host thread.
struct BlockRun {
  const LaunchSpec* launch = nullptr;
  std::vector<Fiber> fibers;
  int current = -1;
  std::exception_ptr error;
  std::vector<unsigned char> shared;             // [dynamic bytes | static arrays]
  std::map<const void*, size_t> static_offsets;  // STRATA_SHARED key -> offset in `shared`
  size_t static_used = 0;
  // Per warp, two banks of 32 lane slots for shuffles, used alternately, so one warp meeting per shuffle suffices:
  // a lane cannot publish into a bank again before every lane has passed the next meeting, i.e. has read it.
  struct Slot {
    uint64_t seq = 0;  // the publishing lane's exchange number (1-based; 0: never published)
    unsigned char bytes[16];
  };
  std::vector<std::array<std::array<Slot, 32>, 2>> warp_slots;
  struct Collective {
    uint64_t seq = 0;  // the operation number whose result `values` holds
    float values[256];
  };
  std::vector<Collective> warp_results;  // per warp
  std::mt19937_64 rng;
  std::vector<int> order;  // turn_order's buffer
};

thread_local BlockRun* tl_run = nullptr;
thread_local StackPool tl_stacks;

Fiber& self() {
  if (!tl_run || tl_run->current < 0) throw std::logic_error("a device builtin was used outside a kernel");
  return tl_run->fibers[tl_run->current];
}

// The body of fiber `i`: the kernel for that thread; an exception is kept for the scheduler to report.
ctx::fiber fiber_main(BlockRun* run, int i, ctx::fiber&& scheduler) {
  run->fibers[i].sink = std::move(scheduler);
  try {
    run->launch->body();
  } catch (const ctx::detail::forced_unwind&) {
    throw;  // an abandoned fiber being unwound
  } catch (...) {
    if (!run->error) run->error = std::current_exception();
  }
  run->fibers[i].st = FiberState::Done;
  return std::move(run->fibers[i].sink);
}

// Suspends the running fiber in state `st` until the scheduler releases it.
void wait_as(FiberState st) {
  Fiber& f = self();
  f.st = st;
  f.sink = std::move(f.sink).resume();
}

// The order in which the fibers take their turns this round (forward and reverse are fixed; shuffled is redrawn).
const std::vector<int>& turn_order(BlockRun& run) {
  std::vector<int>& order = run.order;
  if (order.size() != run.fibers.size()) {
    order.resize(run.fibers.size());
    std::iota(order.begin(), order.end(), 0);
    if (settings().order == ThreadOrder::Reverse) std::reverse(order.begin(), order.end());
  }
  if (settings().order == ThreadOrder::Shuffled) std::shuffle(order.begin(), order.end(), run.rng);
  return order;
}

std::string where(const BlockRun& run, const uint3& b) {
  return std::string("kernel ") + run.launch->name + ", block (" + std::to_string(b.x) + "," + std::to_string(b.y) +
         "," + std::to_string(b.z) + ")";
}

// Releases the waiting fibers that may go on; false when none may (all done, or a deadlock, which throws).
bool release(BlockRun& run, const uint3& block) {
  bool any_live = false, released = false;
  const int warps = (int)run.warp_slots.size();
  std::vector<int> live(warps, 0), at_warp(warps, 0);
  int at_block = 0, n_live = 0;
  for (const Fiber& f : run.fibers) {
    if (f.st == FiberState::Done) continue;
    any_live = true;
    ++n_live;
    ++live[f.warp];
    if (f.st == FiberState::AtWarpBarrier) ++at_warp[f.warp];
    if (f.st == FiberState::AtBlockBarrier) ++at_block;
  }
  if (!any_live) return false;
  for (int w = 0; w < warps; ++w)
    if (at_warp[w] > 0 && at_warp[w] == live[w]) {
      for (Fiber& f : run.fibers)
        if (f.warp == w && f.st == FiberState::AtWarpBarrier) f.st = FiberState::Ready;
      released = true;
    }
  if (released) return true;
  if (at_block == n_live) {
    for (Fiber& f : run.fibers)
      if (f.st == FiberState::AtBlockBarrier) f.st = FiberState::Ready;
    return true;
  }
  throw std::runtime_error(where(run, block) + ": threads wait at different barriers (" + std::to_string(at_block) +
                           " at __syncthreads, the others at a warp-collective operation): divergent barrier");
}

void run_block(const LaunchSpec& launch, BlockRun& run, const uint3& block_idx) {
  const dim3 bd = launch.block;
  const int n = (int)(bd.x * bd.y * bd.z);
  run.fibers.clear();
  run.fibers.resize(n);
  run.current = -1;
  run.error = nullptr;
  std::fill(run.shared.begin(), run.shared.end(), 0xFF);  // NaN as float and bf16
  run.static_offsets.clear();
  run.static_used = 0;
  run.warp_slots.assign((n + kWarp - 1) / kWarp, {});
  run.warp_results.assign((n + kWarp - 1) / kWarp, {});
  tl_stacks.reserve(n);
  for (int i = 0; i < n; ++i) {
    Fiber& f = run.fibers[i];
    f.state.thread_idx = {(unsigned)i % bd.x, (unsigned)i / bd.x % bd.y, (unsigned)i / (bd.x * bd.y)};
    f.state.block_idx = block_idx;
    f.state.block_dim = bd;
    f.state.grid_dim = launch.grid;
    f.warp = i / kWarp;
    f.lane = i % kWarp;
    f.self = ctx::fiber(std::allocator_arg, PooledStack{tl_stacks.stack(i)},
                        [&run, i](ctx::fiber&& scheduler) { return fiber_main(&run, i, std::move(scheduler)); });
  }
  do {
    for (int i : turn_order(run)) {
      if (run.fibers[i].st != FiberState::Ready) continue;
      run.current = i;
      tl_current_thread = &run.fibers[i].state;
      run.fibers[i].self = std::move(run.fibers[i].self).resume();
      tl_current_thread = nullptr;
      run.current = -1;
      if (run.error) {
        try {
          std::rethrow_exception(run.error);
        } catch (const std::exception& e) {
          throw std::runtime_error(where(run, block_idx) + ", thread " + std::to_string(i) + ": " + e.what());
        }
      }
    }
  } while (release(run, block_idx));
}

}  // namespace

void set_thread_order(ThreadOrder order, uint64_t seed) {
  settings() = {order, seed};
}

std::vector<std::string> thread_orders() { return enum_name_list<ThreadOrder>(); }

void set_thread_order(const std::string& order) {
  set_thread_order(parse_enum<ThreadOrder>(order, "thread order"), 1);
}

std::string launch_config_problem(dim3 grid, dim3 block) {
  const uint64_t threads = (uint64_t)block.x * block.y * block.z;
  if (threads == 0 || threads > 1024)
    return "has " + std::to_string(threads) + " threads per block; a block holds 1 to 1024";
  if (block.z > 64) return "has blockDim.z = " + std::to_string(block.z) + " > 64";
  if (grid.x == 0 || grid.y == 0 || grid.z == 0) return "has an empty grid";
  if (grid.y > 65535 || grid.z > 65535) return "has gridDim.y or .z > 65535";
  return "";
}

void run_launch(const LaunchSpec& launch) {
  BlockRun run;
  run.launch = &launch;
  run.rng.seed(settings().seed);
  run.shared.assign(launch.dynamic_smem + kStaticSharedBytes, 0xFF);
  BlockRun* outer = tl_run;
  tl_run = &run;
  struct Restore {
    BlockRun* outer;
    ~Restore() { tl_run = outer; }
  } restore{outer};
  const dim3 g = launch.grid;
  std::vector<uint3> blocks;
  for (unsigned z = 0; z < g.z; ++z)
    for (unsigned y = 0; y < g.y; ++y)
      for (unsigned x = 0; x < g.x; ++x) blocks.push_back({x, y, z});
  switch (settings().order) {  // blocks of a grid run in no fixed order either
    case ThreadOrder::Forward: break;
    case ThreadOrder::Reverse: std::reverse(blocks.begin(), blocks.end()); break;
    case ThreadOrder::Shuffled: std::shuffle(blocks.begin(), blocks.end(), run.rng); break;
  }
  for (const uint3& b : blocks) run_block(launch, run, b);
}

thread_local const ThreadState* tl_current_thread = nullptr;

void block_barrier() {
  wait_as(FiberState::AtBlockBarrier);
}
void warp_barrier() {
  wait_as(FiberState::AtWarpBarrier);
}

void warp_exchange(const void* in, void* out, size_t bytes, int src_lane) {
  if (bytes > 16) throw std::logic_error("warp shuffle of more than 16 bytes");
  BlockRun& run = *tl_run;
  Fiber& f = self();
  const uint64_t seq = ++f.shuffles;
  auto& bank = run.warp_slots[f.warp][seq & 1];
  bank[f.lane].seq = seq;
  std::memcpy(bank[f.lane].bytes, in, bytes);
  warp_barrier();  // every lane has published
  if (src_lane < 0 || src_lane >= kWarp) {
    std::memcpy(out, in, bytes);
  } else if (bank[src_lane].seq != seq) {
    // A lane that has exited, or lies beyond the block's last thread, took no part: its value is undefined (NaN).
    std::memset(out, 0xFF, bytes);
  } else {
    std::memcpy(out, bank[src_lane].bytes, bytes);
  }
}

float* warp_collective_result(bool* first) {
  BlockRun& run = *tl_run;
  Fiber& f = self();
  const uint64_t seq = ++f.collectives;
  BlockRun::Collective& c = run.warp_results[f.warp];
  *first = c.seq != seq;
  c.seq = seq;
  return c.values;
}

void* dynamic_shared_bytes() {
  self();
  return tl_run->shared.data();
}

void* block_shared_bytes(size_t bytes, const void* key) {
  self();
  BlockRun& run = *tl_run;
  auto it = run.static_offsets.find(key);
  if (it == run.static_offsets.end()) {
    const size_t offset = (run.launch->dynamic_smem + run.static_used + 15) / 16 * 16;
    if (offset + bytes > run.shared.size())
      throw std::runtime_error("static shared memory of the emulated block is full (" +
                               std::to_string(kStaticSharedBytes) + " bytes)");
    it = run.static_offsets.emplace(key, offset).first;
    run.static_used = offset + bytes - run.launch->dynamic_smem;
  }
  return run.shared.data() + it->second;
}

}  // namespace strata::cuda_emu
