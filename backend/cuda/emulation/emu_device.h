// The emulated CUDA device, private to backend/cuda/emulation/: what the shim headers (include/) call into. A
// kernel launch becomes a task on its stream; a block runs its threads as fibers on the calling host thread, switching
// only at barriers (__syncthreads, warp-collective operations), in the order the device's ThreadOrder says.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "core/enum_names.h"

namespace strata::cuda_emu {

struct uint3 {
  unsigned x = 0, y = 0, z = 0;
};
struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
};

// How the threads of a block take turns between barriers, and blocks follow each other. Forward: thread 0 first;
// Reverse: the last thread first; Shuffled: a seeded permutation, new at every barrier. Differences between the
// orders expose a missing barrier (a read of shared memory that another thread writes in the same phase).
enum class ThreadOrder { Forward, Reverse, Shuffled };
constexpr std::array<EnumName<ThreadOrder>, 3> enum_names(ThreadOrder) {
  return {{{ThreadOrder::Forward, "forward"}, {ThreadOrder::Reverse, "reverse"}, {ThreadOrder::Shuffled, "shuffle"}}};
}
void set_thread_order(ThreadOrder order, uint64_t seed);

// The thread a fiber runs (the builtins threadIdx, blockIdx, blockDim, gridDim).
struct ThreadState {
  uint3 thread_idx, block_idx;
  dim3 block_dim, grid_dim;
};
// The running fiber's thread (set by the scheduler at every switch; null outside a kernel).
extern thread_local const ThreadState* tl_current_thread;
inline const ThreadState& current_thread() { return *tl_current_thread; }

// __syncthreads / __syncwarp: every (non-exited) thread of the block / warp arrives before any continues.
void block_barrier();
void warp_barrier();
// A warp-collective exchange (shuffles): every lane publishes `bytes` of `in`, then reads lane `src_lane`'s value
// into `out` (its own value when src_lane is outside 0..31). A lane that has exited, or lies beyond the block's last
// thread, publishes nothing: reading it gives 0xFF bytes (NaN), as reading an inactive lane is undefined on a GPU.
void warp_exchange(const void* in, void* out, size_t bytes, int src_lane);

// The warp's buffer for the result of its current warp-collective matrix operation (at most 256 floats). `*first` is
// true for the one lane that arrives first at this operation (it computes; the others copy): every lane of a warp
// holds the same fragments, so one product serves all.
float* warp_collective_result(bool* first);

// Shared memory of the running block: the launch's dynamic bytes, and one array per STRATA_SHARED declaration
// (`key` names it), all filled with 0xFF bytes (NaN as float and bf16) when the block starts.
void* dynamic_shared_bytes();
void* block_shared_bytes(size_t bytes, const void* key);

// Fills device memory with 0xFF bytes (NaN as float and bf16): fresh allocations must not read as zeros.
void poison(void* p, size_t bytes);

// Queues a launch of `body` (one call per thread) on `stream`; a bad configuration sets the sticky launch error
// that cudaGetLastError reports. `name` appears in errors.
void enqueue_launch(const char* name, dim3 grid, dim3 block, size_t dynamic_smem, void* stream,
                    std::function<void()> body);
// Records a launch that cannot run (the sticky error cudaGetLastError reports, naming the kernel and why).
void fail_launch(const char* name, const std::string& why);
// Queues host work (copies, cuBLAS, CUB) on `stream` (nullptr: the legacy default stream).
void enqueue(void* stream, std::function<void()> work);

}  // namespace strata::cuda_emu
