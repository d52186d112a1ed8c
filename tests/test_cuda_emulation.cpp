// The CPU emulation of the CUDA device (backend/cuda/emulation/), tested directly through its shim headers with
// kernels of this file, launched with STRATA_LAUNCH as the backend's .cu sources are.
//   Meta-tests: a kernel with a known bug (missing __syncthreads, off-by-one at a tile edge, a read of shared memory
//     nobody wrote) must come out wrong under the emulation (in some thread order, or as NaN from poisoned memory)
//     while its correct twin is exact under every order: the emulation's reason to exist.
//   Semantics: barriers, shuffles, divergent barriers and launch-configuration errors reported (not crashes or
//     hangs), streams run lazily and in order, events order streams, cuBLAS GEMMs, CUB radix sort and wmma tiles
//     against host references written from the CUDA definitions.
// Every device name lives in strata::cuda_emu, so kernels and tests sit inside that namespace.
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <gtest/gtest.h>
#include <mma.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cub/device/device_radix_sort.cuh>
#include <iterator>
#include <numeric>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "backend/backend_registry.h"
#include "backend/cuda/cuda_portable.h"
#include "backend/cuda/cuda_reduce.cuh"
#include "core/dtype_convert.h"

namespace strata::cuda_emu {

// ---- Kernels ---------------------------------------------------------------------------------------------------
namespace emu_test_kernels {

namespace wmma = nvcuda::wmma;
using bfloat = __nv_bfloat16;

// Meta: each thread stores its element, then reads its neighbour's (read-after-write across threads).
template <bool kBarrier>
__global__ void rotate_kernel(const float* in, float* out) {
  STRATA_SHARED(float, sh, 256);
  const int t = (int)threadIdx.x, n = (int)blockDim.x, base = (int)blockIdx.x * n;
  sh[t] = in[base + t];
  if constexpr (kBarrier) __syncthreads();
  out[base + t] = sh[(t + 1) % n];
}

// Meta: shared memory reused for a second phase; without the middle barrier a thread overwrites its slot before
// its neighbour has read it (write-after-read). Nothing reads poison: only the order of the threads decides.
template <bool kBarrier>
__global__ void shift_twice_kernel(const float* in, float* out) {
  STRATA_SHARED(float, sh, 256);
  const int t = (int)threadIdx.x, n = (int)blockDim.x, base = (int)blockIdx.x * n;
  sh[t] = in[base + t];
  __syncthreads();
  const float a = sh[(t + 1) % n];
  if constexpr (kBarrier) __syncthreads();  // every read of phase 1 is done before phase 2 overwrites
  sh[t] = a;
  __syncthreads();
  out[base + t] = sh[(t + 1) % n];  // = in[base + (t + 2) % n]
}

// Meta: out[i] = in[i] + in[i + 1] (in[n] taken as 0), tiled by kPairTile. The correct kernel loads a tile of
// kPairTile + 1 elements (the halo); the buggy one a tile of kPairTile, and its last thread reads one past the end.
constexpr int kPairTile = 64;
template <bool kBug>
__global__ void pair_sum_tiled_kernel(const float* in, float* out, int n) {
  STRATA_SHARED(float, tile, kBug ? kPairTile : kPairTile + 1);
  const int t = (int)threadIdx.x, base = (int)blockIdx.x * kPairTile, i = base + t;
  tile[t] = i < n ? in[i] : 0.0f;
  if (!kBug && t == 0) tile[kPairTile] = base + kPairTile < n ? in[base + kPairTile] : 0.0f;
  __syncthreads();
  if (i < n) out[i] = tile[t] + tile[t + 1];  // kBug: tile[kPairTile] at t = kPairTile - 1
}

// Meta: forward difference over global memory; the buggy bound lets the last thread read in[n].
template <bool kBug>
__global__ void forward_diff_kernel(const float* in, float* out, int n) {
  const int i = (int)(blockIdx.x * blockDim.x + threadIdx.x);
  if (i >= n) return;
  const bool has_next = kBug ? i < n : i + 1 < n;
  out[i] = has_next ? in[i + 1] - in[i] : 0.0f;
}

// Meta: a shared-memory tree sum written for 64 threads, launched with 48: the first step reads sh[48..63], which
// no thread wrote. The correct kernel guards t + s < n.
template <bool kBug>
__global__ void tree_sum_kernel(const float* in, float* out) {
  STRATA_SHARED(float, sh, 64);
  const int t = (int)threadIdx.x, n = (int)blockDim.x;
  sh[t] = in[blockIdx.x * n + t];
  __syncthreads();
  for (int s = 32; s > 0; s >>= 1) {
    if (t < s && (kBug || t + s < n)) sh[t] += sh[t + s];
    __syncthreads();
  }
  if (t == 0) out[blockIdx.x] = sh[0];
}

// Poisoned memory seen from a kernel: out = in * 0 + 1 (NaN stays NaN).
__global__ void times_zero_plus_one_kernel(const float* in, const bfloat* in_bf, float* out, float* out_bf, int n) {
  const int i = (int)(blockIdx.x * blockDim.x + threadIdx.x);
  if (i >= n) return;
  out[i] = in[i] * 0.0f + 1.0f;
  out_bf[i] = __bfloat162float(in_bf[i]) * 0.0f + 1.0f;
}

// __syncthreads over 8 warps, three phases: every thread counts its arrival before the barrier and reads the count
// after it (plain increments: the emulation runs a block's threads on one host thread), and reads the mirror slot
// another warp wrote.
constexpr int kPhases = 3;
__global__ void barrier_phases_kernel(int* arrivals, int* seen, float* out) {
  STRATA_SHARED(float, sh, 1024);
  const int t = (int)threadIdx.x, n = (int)blockDim.x, b = (int)blockIdx.x;
  for (int p = 0; p < kPhases; ++p) {
    const int slot = b * kPhases + p;
    arrivals[slot] += 1;
    sh[t] = (float)(p * 10000 + b * 1000 + t);
    __syncthreads();
    seen[slot * n + t] = arrivals[slot];
    out[slot * n + t] = sh[n - 1 - t];
    __syncthreads();  // the mirror slot is read before the next phase overwrites it
  }
}

// __syncwarp: lanes exchange through shared memory within their warp (the last warp may be partial); warp 0 then
// meets at extra __syncwarp calls that the other warps never make, before the whole block meets.
template <bool kSyncwarp>
__global__ void warp_rotate_kernel(const float* in, float* out, int extra_warp0_syncs) {
  STRATA_SHARED(float, sh, 256);
  const int t = (int)threadIdx.x, n = (int)blockDim.x;
  const int lane = t & 31, warp_base = t & ~31, warp_n = std::min(32, n - warp_base);
  sh[t] = in[t];
  if constexpr (kSyncwarp) __syncwarp();
  out[t] = sh[warp_base + (lane + 1) % warp_n];
  if (t < 32)
    for (int k = 0; k < extra_warp0_syncs; ++k) __syncwarp();
  __syncthreads();
}

// Shuffles: for every (delta or mask, width) case, every thread's __shfl_down_sync and __shfl_xor_sync of an int
// and a double. Blocks may be 2-D (lanes follow the linear thread index).
constexpr int kShflOffsets[] = {0, 1, 2, 3, 5, 8, 16, 31};
constexpr int kShflWidths[] = {32, 16, 8, 4, 2, 1};
constexpr int kShflCases = (int)(std::size(kShflOffsets) * std::size(kShflWidths));
__device__ int shfl_value(int linear) {
  return linear * 7 + 3;
}
__global__ void shuffle_kernel(int* down, int* xr, double* down_d, double* xr_d) {
  const int linear = (int)(threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z));
  const int n = (int)(blockDim.x * blockDim.y * blockDim.z);
  const int v = shfl_value(linear);
  int c = 0;
  for (int off : kShflOffsets)
    for (int width : kShflWidths) {
      down[c * n + linear] = __shfl_down_sync(0xffffffffu, v, (unsigned)off, width);
      xr[c * n + linear] = __shfl_xor_sync(0xffffffffu, v, off, width);
      down_d[c * n + linear] = __shfl_down_sync(0xffffffffu, v + 0.5, (unsigned)off, width);
      xr_d[c * n + linear] = __shfl_xor_sync(0xffffffffu, v + 0.5, off, width);
      ++c;
    }
}

// A butterfly warp sum (every lane gets the total) and the backend's block_sum (cuda_reduce.cuh).
__global__ void reductions_kernel(const float* in, float* warp_out, float* block_out) {
  const int t = (int)threadIdx.x, n = (int)blockDim.x, i = (int)blockIdx.x * n + t;
  float v = in[i];
  for (int m = 16; m > 0; m >>= 1) v += __shfl_xor_sync(0xffffffffu, v, m);
  warp_out[i] = v;
  block_out[i] = cuda_detail::block_sum(in[i]);
}

// Every lane shuffles once; then the upper half-warp exits and the lower half reads it with a shuffle (undefined on
// a GPU): the exited lanes published nothing, so the value must be poison, not the first shuffle's.
__global__ void shuffle_from_exited_lanes_kernel(float* first, float* second) {
  const int t = (int)threadIdx.x;
  first[t] = __shfl_down_sync(0xffffffffu, (float)t, 16);
  if (t >= 16) return;
  second[t] = __shfl_down_sync(0x0000ffffu, (float)(100 + t), 16);
}

// Half a warp at __syncthreads, the other half at __syncwarp: a barrier only part of the block reaches.
__global__ void divergent_barrier_kernel(float* out) {
  if (threadIdx.x < 16)
    __syncthreads();
  else
    __syncwarp();
  out[threadIdx.x] = 1.0f;
}

__global__ void fill_kernel(float* out, float v, int n) {
  const int i = (int)(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < n) out[i] = v;
}

// x = x * mul + add: the result of a sequence depends on the order the launches run in.
__global__ void affine_kernel(float* x, float mul, float add, int n) {
  const int i = (int)(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < n) x[i] = x[i] * mul + add;
}

__global__ void scale_kernel(const float* x, float* y, float s, int n) {
  const int i = (int)(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < n) y[i] = x[i] * s;
}

// One 16x16x16 bf16 tile per warp: D = A B (+ C when use_c), stored row-major and column-major. A row-major with
// leading dimension lda; B in LayoutB with ldb; C row-major with ldc. Warp w's tiles start w tiles further on.
template <class LayoutB>
__global__ void wmma_kernel(const bfloat* a, const bfloat* b, const float* c, float* d_row, float* d_col, int lda,
                            int ldb, int ldc, bool use_c) {
  const int w = (int)threadIdx.x / 32;
  wmma::fragment<wmma::matrix_a, 16, 16, 16, bfloat, wmma::row_major> fa;
  wmma::fragment<wmma::matrix_b, 16, 16, 16, bfloat, LayoutB> fb;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
  if (use_c)
    wmma::load_matrix_sync(acc, c + w * 16 * ldc, (unsigned)ldc, wmma::mem_row_major);
  else
    wmma::fill_fragment(acc, 0.0f);
  wmma::load_matrix_sync(fa, a + w * 16 * lda, (unsigned)lda);
  wmma::load_matrix_sync(fb, b + w * 16 * ldb, (unsigned)ldb);
  wmma::mma_sync(acc, fa, fb, acc);
  wmma::store_matrix_sync(d_row + w * 256, acc, 16, wmma::mem_row_major);
  wmma::store_matrix_sync(d_col + w * 256, acc, 16, wmma::mem_col_major);
}

}  // namespace emu_test_kernels

namespace {

namespace k = emu_test_kernels;
using bfloat = __nv_bfloat16;

// ---- Helpers -----------------------------------------------------------------------------------------------------

struct Order {
  ThreadOrder order;
  uint64_t seed;
  const char* name;
};
const std::vector<Order>& all_orders() {
  static const std::vector<Order> orders = {{ThreadOrder::Forward, 1, "forward"},
                                            {ThreadOrder::Reverse, 1, "reverse"},
                                            {ThreadOrder::Shuffled, 1, "shuffled(seed 1)"},
                                            {ThreadOrder::Shuffled, 2, "shuffled(seed 2)"},
                                            {ThreadOrder::Shuffled, 7, "shuffled(seed 7)"}};
  return orders;
}

// A device allocation of n elements, poisoned (0xFF bytes: NaN as float and bf16) like the backend's arena.
template <class T>
class DeviceArray {
 public:
  explicit DeviceArray(size_t n) : n_(n) {
    void* p = nullptr;
    EXPECT_EQ(cudaMalloc(&p, n * sizeof(T)), cudaSuccess);
    p_ = static_cast<T*>(p);
    poison(p_, n * sizeof(T));
  }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  ~DeviceArray() { cudaFree(p_); }
  T* get() const { return p_; }
  // Synchronous copies (the host vector must outlive the queued copy).
  void upload(const std::vector<T>& h, cudaStream_t s = nullptr) {
    ASSERT_LE(h.size(), n_);
    ASSERT_EQ(cudaMemcpyAsync(p_, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice, s), cudaSuccess);
    ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  }
  std::vector<T> download(cudaStream_t s = nullptr) const {
    std::vector<T> h(n_);
    EXPECT_EQ(cudaMemcpyAsync(h.data(), p_, n_ * sizeof(T), cudaMemcpyDeviceToHost, s), cudaSuccess);
    EXPECT_EQ(cudaStreamSynchronize(s), cudaSuccess);
    return h;
  }

 private:
  T* p_ = nullptr;
  size_t n_;
};

class Stream {
 public:
  Stream() { EXPECT_EQ(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking), cudaSuccess); }
  ~Stream() { cudaStreamDestroy(s_); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  operator cudaStream_t() const { return s_; }

 private:
  cudaStream_t s_ = nullptr;
};

class Event {
 public:
  Event() { EXPECT_EQ(cudaEventCreateWithFlags(&e_, cudaEventDisableTiming), cudaSuccess); }
  ~Event() { cudaEventDestroy(e_); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  operator cudaEvent_t() const { return e_; }

 private:
  cudaEvent_t e_ = nullptr;
};

std::vector<float> iota_floats(size_t n, float start = 1.0f) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = start + (float)i;
  return v;
}

struct Mismatches {
  int wrong = 0, non_finite = 0;
};
Mismatches compare(const std::vector<float>& got, const std::vector<float>& want) {
  Mismatches m;
  for (size_t i = 0; i < want.size(); ++i) {
    if (!std::isfinite(got[i])) ++m.non_finite;
    if (!(got[i] == want[i])) ++m.wrong;  // NaN counts as wrong
  }
  return m;
}

uint16_t bits(bfloat h) {
  return h.bits;
}

// Every test starts and ends on the forward order with no pending work or error.
class CudaEmu : public ::testing::Test {
 protected:
  void SetUp() override {
    set_thread_order(ThreadOrder::Forward, 1);
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  }
  void TearDown() override {
    set_thread_order(ThreadOrder::Forward, 1);
    EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  }
};

// ---- Meta-tests: the emulation must expose these bugs -------------------------------------------------------------

// Runs kernel variant `launch` under every order; returns the mismatches against `want` per order.
template <class Launch>
std::vector<Mismatches> under_every_order(Launch launch, const DeviceArray<float>& out,
                                          const std::vector<float>& want) {
  std::vector<Mismatches> per_order;
  for (const Order& o : all_orders()) {
    set_thread_order(o.order, o.seed);
    poison(out.get(), want.size() * sizeof(float));
    launch();
    EXPECT_EQ(cudaGetLastError(), cudaSuccess) << o.name;
    per_order.push_back(compare(out.download(), want));
  }
  set_thread_order(ThreadOrder::Forward, 1);
  return per_order;
}

std::string describe(const std::vector<Mismatches>& per_order, int total) {
  std::string s;
  for (size_t i = 0; i < per_order.size(); ++i)
    s += std::string(i ? ", " : "") + all_orders()[i].name + " " + std::to_string(per_order[i].wrong) + "/" +
         std::to_string(total) + " wrong (" + std::to_string(per_order[i].non_finite) + " non-finite)";
  return s;
}

// A kernel that rotates each block's 128 values by `shift` through shared memory, in a correct variant (barriers
// in place) and a broken one (one missing): the correct one must be exact under every order, the broken one wrong
// under at least one. Returns the broken variant's mismatches per order.
template <class Good, class Bad>
std::vector<Mismatches> expect_missing_barrier_caught(int shift, Good launch_good, Bad launch_bad) {
  constexpr int kThreads = 128, kBlocks = 2, kN = kThreads * kBlocks;
  DeviceArray<float> in(kN), out(kN);
  const std::vector<float> host = iota_floats(kN);
  in.upload(host);
  std::vector<float> want(kN);
  for (int b = 0; b < kBlocks; ++b)
    for (int t = 0; t < kThreads; ++t) want[b * kThreads + t] = host[b * kThreads + (t + shift) % kThreads];
  const auto good = under_every_order([&] { launch_good(kBlocks, kThreads, in.get(), out.get()); }, out, want);
  const auto bad = under_every_order([&] { launch_bad(kBlocks, kThreads, in.get(), out.get()); }, out, want);
  for (size_t i = 0; i < good.size(); ++i) EXPECT_EQ(good[i].wrong, 0) << all_orders()[i].name;
  EXPECT_TRUE(std::any_of(bad.begin(), bad.end(), [](const Mismatches& m) { return m.wrong > 0; }))
      << "the missing __syncthreads went unnoticed under every order";
  return bad;
}

TEST_F(CudaEmu, MetaMissingSyncthreadsReadAfterWriteIsDetected) {
  const auto bad = expect_missing_barrier_caught(
      1, [](int blocks, int threads, const float* in, float* out) {
        STRATA_LAUNCH(k::rotate_kernel<true>, blocks, threads, 0, nullptr)(in, out);
      },
      [](int blocks, int threads, const float* in, float* out) {
        STRATA_LAUNCH(k::rotate_kernel<false>, blocks, threads, 0, nullptr)(in, out);
      });
  std::printf("[ observed ] missing __syncthreads (read after write): %s\n", describe(bad, 256).c_str());
}

TEST_F(CudaEmu, MetaMissingSyncthreadsWriteAfterReadIsDetected) {
  const auto bad = expect_missing_barrier_caught(
      2, [](int blocks, int threads, const float* in, float* out) {
        STRATA_LAUNCH(k::shift_twice_kernel<true>, blocks, threads, 0, nullptr)(in, out);
      },
      [](int blocks, int threads, const float* in, float* out) {
        STRATA_LAUNCH(k::shift_twice_kernel<false>, blocks, threads, 0, nullptr)(in, out);
      });
  // No poison is involved here: the values are stale or early, never NaN, so only the orders tell.
  for (const Mismatches& m : bad) EXPECT_EQ(m.non_finite, 0);
  std::printf("[ observed ] missing __syncthreads (write after read): %s\n", describe(bad, 256).c_str());
}

TEST_F(CudaEmu, MetaOffByOneAtSharedTileEdgeIsDetected) {
  constexpr int kN = 200;  // 4 tiles, the last one partial
  constexpr int kBlocks = (kN + k::kPairTile - 1) / k::kPairTile;
  DeviceArray<float> in(kN), out(kN);
  const std::vector<float> host = iota_floats(kN);
  in.upload(host);
  std::vector<float> want(kN);
  for (int i = 0; i < kN; ++i) want[i] = host[i] + (i + 1 < kN ? host[i + 1] : 0.0f);

  const auto launch_good = [&] {
    STRATA_LAUNCH(k::pair_sum_tiled_kernel<false>, kBlocks, k::kPairTile, 0, nullptr)(in.get(), out.get(), kN);
  };
  const auto good = under_every_order(launch_good, out, want);
  for (size_t i = 0; i < good.size(); ++i) EXPECT_EQ(good[i].wrong, 0) << all_orders()[i].name;

  poison(out.get(), kN * sizeof(float));
  STRATA_LAUNCH(k::pair_sum_tiled_kernel<true>, kBlocks, k::kPairTile, 0, nullptr)(in.get(), out.get(), kN);
  const std::vector<float> got = out.download();
  // The last thread of every full tile read tile[kPairTile], one past the array: poisoned shared memory.
  std::string where;
  for (int i = 0; i < kN; ++i) {
    const bool edge = i % k::kPairTile == k::kPairTile - 1;
    if (edge) {
      EXPECT_FALSE(std::isfinite(got[i])) << "element " << i << " read past its tile and got " << got[i];
      where += " out[" + std::to_string(i) + "]=" + std::to_string(got[i]);
    } else {
      EXPECT_EQ(got[i], want[i]) << i;
    }
  }
  std::printf("[ observed ] off-by-one past a shared tile:%s\n", where.c_str());
}

TEST_F(CudaEmu, MetaOffByOnePastDeviceBufferIsDetected) {
  constexpr int kN = 100;
  DeviceArray<float> in(kN + 4), out(kN);  // poisoned tail: in[kN..]
  const std::vector<float> host = iota_floats(kN);
  in.upload(host);
  std::vector<float> want(kN);
  for (int i = 0; i < kN; ++i) want[i] = i + 1 < kN ? host[i + 1] - host[i] : 0.0f;

  const auto launch_good = [&] {
    STRATA_LAUNCH(k::forward_diff_kernel<false>, 4, 32, 0, nullptr)(in.get(), out.get(), kN);
  };
  const auto good = under_every_order(launch_good, out, want);
  for (size_t i = 0; i < good.size(); ++i) EXPECT_EQ(good[i].wrong, 0) << all_orders()[i].name;

  poison(out.get(), kN * sizeof(float));
  STRATA_LAUNCH(k::forward_diff_kernel<true>, 4, 32, 0, nullptr)(in.get(), out.get(), kN);
  const std::vector<float> got = out.download();
  for (int i = 0; i + 1 < kN; ++i) EXPECT_EQ(got[i], want[i]) << i;
  EXPECT_FALSE(std::isfinite(got[kN - 1])) << "in[n] read as " << got[kN - 1];
  std::printf("[ observed ] off-by-one past a device buffer: out[%d] = %f\n", kN - 1, got[kN - 1]);
}

TEST_F(CudaEmu, MetaReadOfUnwrittenSharedMemoryIsNaN) {
  constexpr int kThreads = 48, kBlocks = 3;
  DeviceArray<float> in(kThreads * kBlocks), out(kBlocks);
  const std::vector<float> host = iota_floats(kThreads * kBlocks);
  in.upload(host);
  std::vector<float> want(kBlocks, 0.0f);
  for (int b = 0; b < kBlocks; ++b)
    for (int t = 0; t < kThreads; ++t) want[b] += host[b * kThreads + t];

  const auto launch_good = [&] {
    STRATA_LAUNCH(k::tree_sum_kernel<false>, kBlocks, kThreads, 0, nullptr)(in.get(), out.get());
  };
  const auto good = under_every_order(launch_good, out, want);
  for (size_t i = 0; i < good.size(); ++i) EXPECT_EQ(good[i].wrong, 0) << all_orders()[i].name;

  poison(out.get(), kBlocks * sizeof(float));
  STRATA_LAUNCH(k::tree_sum_kernel<true>, kBlocks, kThreads, 0, nullptr)(in.get(), out.get());
  const std::vector<float> got = out.download();
  for (int b = 0; b < kBlocks; ++b) EXPECT_TRUE(std::isnan(got[b])) << "block " << b << " summed to " << got[b];
  std::printf("[ observed ] read of unwritten shared memory: block sums %f %f %f\n", got[0], got[1], got[2]);
}

TEST_F(CudaEmu, PoisonedDeviceMemoryReadsAsNaN) {
  constexpr int kN = 77;
  DeviceArray<float> f(kN), out(kN), out_bf(kN);
  DeviceArray<bfloat> h(kN);
  for (float v : f.download()) EXPECT_TRUE(std::isnan(v));
  for (bfloat v : h.download()) {
    EXPECT_EQ(bits(v), 0xFFFFu);
    EXPECT_TRUE(std::isnan(__bfloat162float(v)));
    EXPECT_TRUE(std::isnan(::strata::bf16_to_f32(v.bits)));
  }
  // Read by a kernel: NaN * 0 + 1 stays NaN.
  STRATA_LAUNCH(k::times_zero_plus_one_kernel, 3, 32, 0, nullptr)(f.get(), h.get(), out.get(), out_bf.get(), kN);
  for (float v : out.download()) EXPECT_TRUE(std::isnan(v));
  for (float v : out_bf.download()) EXPECT_TRUE(std::isnan(v));
  // cudaMallocHost memory is poisoned too.
  float* pinned = nullptr;
  ASSERT_EQ(cudaMallocHost(reinterpret_cast<void**>(&pinned), kN * sizeof(float)), cudaSuccess);
  for (int i = 0; i < kN; ++i) EXPECT_TRUE(std::isnan(pinned[i]));
  EXPECT_EQ(cudaFreeHost(pinned), cudaSuccess);
}

// ---- Barriers and warps ---------------------------------------------------------------------------------------

TEST_F(CudaEmu, SyncthreadsHoldsEveryWarpUntilAllArrive) {
  constexpr int kThreads = 256, kBlocks = 2, kSlots = kBlocks * k::kPhases;
  DeviceArray<int> arrivals(kSlots), seen(kSlots * kThreads);
  DeviceArray<float> out(kSlots * kThreads);
  for (const Order& o : all_orders()) {
    set_thread_order(o.order, o.seed);
    arrivals.upload(std::vector<int>(kSlots, 0));
    STRATA_LAUNCH(k::barrier_phases_kernel, kBlocks, kThreads, 0, nullptr)(arrivals.get(), seen.get(), out.get());
    const std::vector<int> s = seen.download();
    const std::vector<float> got = out.download();
    for (int slot = 0; slot < kSlots; ++slot)
      for (int t = 0; t < kThreads; ++t) {
        const int p = slot % k::kPhases, b = slot / k::kPhases;
        ASSERT_EQ(s[slot * kThreads + t], kThreads) << o.name << " block " << b << " phase " << p << " thread " << t;
        ASSERT_EQ(got[slot * kThreads + t], (float)(p * 10000 + b * 1000 + kThreads - 1 - t)) << o.name;
      }
  }
}

TEST_F(CudaEmu, SyncwarpOrdersItsWarpOnly) {
  constexpr int kThreads = 72;  // 2 full warps and one of 8 lanes
  DeviceArray<float> in(kThreads), out(kThreads);
  const std::vector<float> host = iota_floats(kThreads);
  in.upload(host);
  std::vector<float> want(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    const int base = t & ~31, wn = std::min(32, kThreads - base);
    want[t] = host[base + ((t & 31) + 1) % wn];
  }
  const auto launch_good = [&] {
    STRATA_LAUNCH(k::warp_rotate_kernel<true>, 1, kThreads, 0, nullptr)(in.get(), out.get(), 3);
  };
  const auto good = under_every_order(launch_good, out, want);
  for (size_t i = 0; i < good.size(); ++i) EXPECT_EQ(good[i].wrong, 0) << all_orders()[i].name;
  // Without it the same exchange reads slots not yet written.
  const auto launch_bad = [&] {
    STRATA_LAUNCH(k::warp_rotate_kernel<false>, 1, kThreads, 0, nullptr)(in.get(), out.get(), 3);
  };
  const auto bad = under_every_order(launch_bad, out, want);
  EXPECT_TRUE(std::any_of(bad.begin(), bad.end(), [](const Mismatches& m) { return m.wrong > 0; }));
}

// The source lane of a shuffle from the programming guide's prose: down: lane + delta, or the caller's own value
// when that leaves the caller's group of `width` lanes; xor: lane ^ mask, or the caller's own value when that is in
// a later group (earlier groups may be read).
int guide_down_source(int lane, int delta, int width) {
  const int src = lane + delta;
  return src / width == lane / width && src < 32 ? src : lane;
}
int guide_xor_source(int lane, int mask, int width) {
  const int src = lane ^ mask;
  return src / width > lane / width ? lane : src;
}

void check_shuffles(dim3 block) {
  const int n = (int)(block.x * block.y * block.z);
  DeviceArray<int> down(k::kShflCases * n), xr(k::kShflCases * n);
  DeviceArray<double> down_d(k::kShflCases * n), xr_d(k::kShflCases * n);
  STRATA_LAUNCH(k::shuffle_kernel, 1, block, 0, nullptr)(down.get(), xr.get(), down_d.get(), xr_d.get());
  const std::vector<int> d = down.download(), x = xr.download();
  const std::vector<double> dd = down_d.download(), xd = xr_d.download();
  int c = 0;
  for (int off : k::kShflOffsets)
    for (int width : k::kShflWidths) {
      for (int t = 0; t < n; ++t) {
        const int lane = t % 32, warp_base = t - lane;
        const int ds = warp_base + guide_down_source(lane, off, width);
        const int xs = warp_base + guide_xor_source(lane, off, width);
        ASSERT_EQ(d[c * n + t], k::shfl_value(ds)) << "down delta " << off << " width " << width << " thread " << t;
        ASSERT_EQ(x[c * n + t], k::shfl_value(xs)) << "xor mask " << off << " width " << width << " thread " << t;
        ASSERT_EQ(dd[c * n + t], k::shfl_value(ds) + 0.5) << "double down, thread " << t;
        ASSERT_EQ(xd[c * n + t], k::shfl_value(xs) + 0.5) << "double xor, thread " << t;
      }
      ++c;
    }
}

TEST_F(CudaEmu, ShufflesMatchTheirDefinitions) {
  check_shuffles(dim3(64));
}

TEST_F(CudaEmu, ShufflesUseTheLinearLaneOfTwoDimensionalBlocks) {
  check_shuffles(dim3(16, 4));  // lanes 16..31 of warp 0 are threadIdx.y == 1
}

TEST_F(CudaEmu, ButterflyAndBlockSumAgreeUnderEveryOrder) {
  constexpr int kThreads = 256, kBlocks = 2, kN = kThreads * kBlocks;
  DeviceArray<float> in(kN), warp_out(kN), block_out(kN);
  std::vector<float> host(kN);
  for (int i = 0; i < kN; ++i) host[i] = (float)(i % 13) - 6.0f;  // integer sums: exact in any order
  in.upload(host);
  std::vector<float> warp_want(kN), block_want(kN);
  for (int i = 0; i < kN; ++i) {
    const int w = i / 32, b = i / kThreads;
    warp_want[i] = std::accumulate(host.begin() + w * 32, host.begin() + w * 32 + 32, 0.0f);
    block_want[i] = std::accumulate(host.begin() + b * kThreads, host.begin() + (b + 1) * kThreads, 0.0f);
  }
  for (const Order& o : all_orders()) {
    set_thread_order(o.order, o.seed);
    STRATA_LAUNCH(k::reductions_kernel, kBlocks, kThreads, 0, nullptr)(in.get(), warp_out.get(), block_out.get());
    EXPECT_EQ(compare(warp_out.download(), warp_want).wrong, 0) << o.name;
    EXPECT_EQ(compare(block_out.download(), block_want).wrong, 0) << o.name;
  }
}

TEST_F(CudaEmu, ShuffleFromAnExitedLaneReadsPoison) {
  DeviceArray<float> first(32), second(16);
  STRATA_LAUNCH(k::shuffle_from_exited_lanes_kernel, 1, 32, 0, nullptr)(first.get(), second.get());
  const std::vector<float> f = first.download(), g = second.download();
  for (int t = 0; t < 32; ++t) EXPECT_EQ(f[t], (float)(t < 16 ? t + 16 : t)) << t;
  for (int t = 0; t < 16; ++t) EXPECT_TRUE(std::isnan(g[t])) << "lane " << t << " read " << g[t];
}

TEST_F(CudaEmu, DivergentBarrierIsReportedNotAHang) {
  Stream s;
  DeviceArray<float> out(32);
  STRATA_LAUNCH(k::divergent_barrier_kernel, 1, 32, 0, s)(out.get());
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);  // queued, not run yet: nothing to report
  const cudaError_t e = cudaStreamSynchronize(s);
  ASSERT_EQ(e, cudaErrorLaunchFailure);
  const std::string what = cudaGetErrorString(e);
  EXPECT_NE(what.find("divergent barrier"), std::string::npos) << what;
  EXPECT_NE(what.find("divergent_barrier_kernel"), std::string::npos) << what;
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);  // reported once

  // The error surfaces at whichever synchronisation point runs the kernel (here cudaDeviceSynchronize); afterwards
  // the device runs work again.
  STRATA_LAUNCH(k::divergent_barrier_kernel, 1, 32, 0, s)(out.get());
  EXPECT_EQ(cudaDeviceSynchronize(), cudaErrorLaunchFailure);
  STRATA_LAUNCH(k::fill_kernel, 1, 32, 0, s)(out.get(), 2.0f, 32);
  EXPECT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  for (float v : out.download(s)) EXPECT_EQ(v, 2.0f);
}

TEST_F(CudaEmu, LaunchConfigurationErrorsNameTheKernel) {
  DeviceArray<float> out(64);
  const auto expect_config_error = [](const std::string& needle) {
    const cudaError_t e = cudaGetLastError();
    EXPECT_EQ(e, cudaErrorInvalidConfiguration);
    const std::string what = cudaGetErrorString(e);
    EXPECT_NE(what.find("fill_kernel"), std::string::npos) << what;
    EXPECT_NE(what.find(needle), std::string::npos) << what;
    EXPECT_EQ(cudaGetLastError(), cudaSuccess) << "the error is reported once";
  };
  STRATA_LAUNCH(k::fill_kernel, 1, 1025, 0, nullptr)(out.get(), 1.0f, 64);
  expect_config_error("1025");
  STRATA_LAUNCH(k::fill_kernel, dim3(1, 32, 2), dim3(1), 0, nullptr)(out.get(), 1.0f, 64);  // a 3-D grid is fine
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  STRATA_LAUNCH(k::fill_kernel, 1, dim3(32, 32, 2), 0, nullptr)(out.get(), 1.0f, 64);
  expect_config_error("2048");
  STRATA_LAUNCH(k::fill_kernel, 0, 64, 0, nullptr)(out.get(), 1.0f, 64);
  expect_config_error("empty grid");
  STRATA_LAUNCH(k::fill_kernel, dim3(1, 0, 1), 64, 0, nullptr)(out.get(), 1.0f, 64);
  expect_config_error("empty grid");
  STRATA_LAUNCH(k::fill_kernel, 1, 64, 300 * 1024, nullptr)(out.get(), 1.0f, 64);
  expect_config_error("dynamic shared memory");
  // None of the rejected launches ran (the one valid launch wrote out[0] only).
  const std::vector<float> got = out.download();
  EXPECT_EQ(got[0], 1.0f);
  for (size_t i = 1; i < got.size(); ++i) EXPECT_TRUE(std::isnan(got[i])) << i;
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
}

// ---- Streams and events ---------------------------------------------------------------------------------------

TEST_F(CudaEmu, StreamRunsItsWorkInOrder) {
  constexpr int kN = 40;
  Stream s;
  DeviceArray<float> x(kN);
  std::vector<float> host(kN, -1.0f);
  ASSERT_EQ(cudaMemsetAsync(x.get(), 0, kN * sizeof(float), s), cudaSuccess);
  for (int d = 1; d <= 6; ++d) STRATA_LAUNCH(k::affine_kernel, 2, 32, 0, s)(x.get(), 10.0f, (float)d, kN);
  ASSERT_EQ(cudaMemcpyAsync(host.data(), x.get(), kN * sizeof(float), cudaMemcpyDeviceToHost, s), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  for (float v : host) EXPECT_EQ(v, 123456.0f);
}

TEST_F(CudaEmu, HostSeesOldDataUntilTheStreamIsSynchronized) {
  constexpr int kN = 50;
  Stream s;
  DeviceArray<float> d(kN);
  float* pinned = nullptr;
  ASSERT_EQ(cudaMallocHost(reinterpret_cast<void**>(&pinned), kN * sizeof(float)), cudaSuccess);
  std::fill(pinned, pinned + kN, -1.0f);
  STRATA_LAUNCH(k::fill_kernel, 2, 32, 0, s)(d.get(), 5.0f, kN);
  ASSERT_EQ(cudaMemcpyAsync(pinned, d.get(), kN * sizeof(float), cudaMemcpyDeviceToHost, s), cudaSuccess);
  for (int i = 0; i < kN; ++i) {
    EXPECT_EQ(pinned[i], -1.0f) << "the copy ran before the stream was synchronized";
    EXPECT_TRUE(std::isnan(d.get()[i])) << "the kernel ran before the stream was synchronized";
  }
  ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  for (int i = 0; i < kN; ++i) EXPECT_EQ(pinned[i], 5.0f);
  EXPECT_EQ(cudaFreeHost(pinned), cudaSuccess);
}

TEST_F(CudaEmu, StreamWaitEventOrdersASecondStreamAfterTheFirst) {
  constexpr int kN = 32;
  Stream a, b, c;
  Event e;
  DeviceArray<float> x(kN), y(kN), z(kN), x2(kN), y2(kN);
  STRATA_LAUNCH(k::fill_kernel, 1, 32, 0, a)(x.get(), 7.0f, kN);
  ASSERT_EQ(cudaEventRecord(e, a), cudaSuccess);
  STRATA_LAUNCH(k::fill_kernel, 1, 32, 0, a)(z.get(), 9.0f, kN);  // after the record: not waited for
  STRATA_LAUNCH(k::fill_kernel, 1, 32, 0, a)(x2.get(), 3.0f, kN);
  ASSERT_EQ(cudaStreamWaitEvent(b, e, 0), cudaSuccess);
  STRATA_LAUNCH(k::scale_kernel, 1, 32, 0, b)(x.get(), y.get(), 2.0f, kN);
  // Without a wait, stream c reads x2 before stream a has written it.
  STRATA_LAUNCH(k::scale_kernel, 1, 32, 0, c)(x2.get(), y2.get(), 2.0f, kN);
  ASSERT_EQ(cudaStreamSynchronize(c), cudaSuccess);
  for (int i = 0; i < kN; ++i) EXPECT_TRUE(std::isnan(y2.get()[i])) << "stream c was ordered after stream a";

  ASSERT_EQ(cudaStreamSynchronize(b), cudaSuccess);
  for (int i = 0; i < kN; ++i) {
    EXPECT_EQ(y.get()[i], 14.0f);
    EXPECT_TRUE(std::isnan(z.get()[i])) << "work recorded after the event ran early";
  }
  ASSERT_EQ(cudaStreamSynchronize(a), cudaSuccess);
  for (int i = 0; i < kN; ++i) EXPECT_EQ(z.get()[i], 9.0f);
}

TEST_F(CudaEmu, StreamWaitEventWaitsForTheRecordItSaw) {
  // The event is recorded again on another stream after the wait was queued; that newer record completing must not
  // release the wait for the older one.
  constexpr int kN = 32;
  Stream a, b, c;
  Event e;
  DeviceArray<float> x(kN), y(kN);
  STRATA_LAUNCH(k::fill_kernel, 1, 32, 0, a)(x.get(), 4.0f, kN);
  ASSERT_EQ(cudaEventRecord(e, a), cudaSuccess);
  ASSERT_EQ(cudaStreamWaitEvent(b, e, 0), cudaSuccess);
  STRATA_LAUNCH(k::scale_kernel, 1, 32, 0, b)(x.get(), y.get(), 2.0f, kN);
  ASSERT_EQ(cudaEventRecord(e, c), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(c), cudaSuccess);  // the newer record has completed
  ASSERT_EQ(cudaStreamSynchronize(b), cudaSuccess);
  for (int i = 0; i < kN; ++i) EXPECT_EQ(y.get()[i], 8.0f);
  // A wait on an event never recorded does not wait.
  Event never;
  ASSERT_EQ(cudaStreamWaitEvent(b, never, 0), cudaSuccess);
  EXPECT_EQ(cudaStreamSynchronize(b), cudaSuccess);
}

TEST_F(CudaEmu, EventQueryIsNotReadyUntilTheRecordRuns) {
  constexpr int kN = 64;
  Stream s;
  Event e, never;
  EXPECT_EQ(cudaEventQuery(never), cudaSuccess);
  DeviceArray<float> d(kN);
  std::vector<float> host(kN, -1.0f);
  STRATA_LAUNCH(k::fill_kernel, 2, 32, 0, s)(d.get(), 6.0f, kN);
  STRATA_LAUNCH(k::affine_kernel, 2, 32, 0, s)(d.get(), 2.0f, 1.0f, kN);
  ASSERT_EQ(cudaMemcpyAsync(host.data(), d.get(), kN * sizeof(float), cudaMemcpyDeviceToHost, s), cudaSuccess);
  ASSERT_EQ(cudaEventRecord(e, s), cudaSuccess);
  int not_ready = 0;
  cudaError_t q = cudaEventQuery(e);
  for (int polls = 0; q == cudaErrorNotReady && polls < 100; ++polls, q = cudaEventQuery(e)) ++not_ready;
  EXPECT_EQ(q, cudaSuccess);
  EXPECT_GE(not_ready, 1) << "the first query found the work already done";
  for (float v : host) EXPECT_EQ(v, 13.0f);  // complete once the event is: no stream synchronisation needed
  EXPECT_EQ(cudaEventSynchronize(e), cudaSuccess);
}

// ---- cuBLAS ------------------------------------------------------------------------------------------------------

// op(X)[r][c] of a column-major X with leading dimension ld (the BLAS definition).
size_t op_index(cublasOperation_t t, int r, int c, int ld) {
  return t == CUBLAS_OP_N ? (size_t)c * ld + r : (size_t)r * ld + c;
}

// Exactly representable small values (multiples of 1/4 up to 2): fp32 sums of their products are exact, so the
// emulation must match the double reference bit for bit.
float gemm_value(int i, int salt) {
  return (float)(((i * 37 + salt * 11) % 17) - 8) * 0.25f;
}

struct GemmShape {
  int m = 5, n = 6, k = 7;
};

TEST_F(CudaEmu, CublasSgemmMatchesTheDefinition) {
  const GemmShape sh;
  Stream s;
  cublasHandle_t h = nullptr;
  ASSERT_EQ(cublasCreate(&h), CUBLAS_STATUS_SUCCESS);
  ASSERT_EQ(cublasSetStream(h, s), CUBLAS_STATUS_SUCCESS);
  for (cublasOperation_t ta : {CUBLAS_OP_N, CUBLAS_OP_T})
    for (cublasOperation_t tb : {CUBLAS_OP_N, CUBLAS_OP_T})
      for (float beta : {0.0f, 1.0f, -0.5f}) {
        const int rows_a = ta == CUBLAS_OP_N ? sh.m : sh.k, cols_a = ta == CUBLAS_OP_N ? sh.k : sh.m;
        const int rows_b = tb == CUBLAS_OP_N ? sh.k : sh.n, cols_b = tb == CUBLAS_OP_N ? sh.n : sh.k;
        const int lda = rows_a + 3, ldb = rows_b + 2, ldc = sh.m + 4;
        // Padding rows stay NaN: reading them would poison the result.
        std::vector<float> a(lda * cols_a, NAN), b(ldb * cols_b, NAN), c(ldc * sh.n, NAN);
        for (int j = 0; j < cols_a; ++j)
          for (int i = 0; i < rows_a; ++i) a[j * lda + i] = gemm_value(j * rows_a + i, 1);
        for (int j = 0; j < cols_b; ++j)
          for (int i = 0; i < rows_b; ++i) b[j * ldb + i] = gemm_value(j * rows_b + i, 2);
        if (beta != 0.0f)  // beta == 0: C is never read, so NaN there must not show
          for (int j = 0; j < sh.n; ++j)
            for (int i = 0; i < sh.m; ++i) c[j * ldc + i] = gemm_value(j * sh.m + i, 3);
        DeviceArray<float> da(a.size()), db(b.size()), dc(c.size());
        da.upload(a, s);
        db.upload(b, s);
        dc.upload(c, s);
        const float alpha = 1.5f;
        ASSERT_EQ(cublasSgemm(h, ta, tb, sh.m, sh.n, sh.k, &alpha, da.get(), lda, db.get(), ldb, &beta, dc.get(), ldc),
                  CUBLAS_STATUS_SUCCESS);
        const std::vector<float> got = dc.download(s);
        for (int j = 0; j < sh.n; ++j)
          for (int i = 0; i < ldc; ++i) {
            const float g = got[j * ldc + i];
            if (i >= sh.m) {
              EXPECT_TRUE(std::isnan(g)) << "padding of C written";
              continue;
            }
            double sum = 0;
            for (int p = 0; p < sh.k; ++p)
              sum += (double)a[op_index(ta, i, p, lda)] * (double)b[op_index(tb, p, j, ldb)];
            const double want = alpha * sum + (beta != 0.0f ? beta * (double)c[j * ldc + i] : 0.0);
            EXPECT_EQ(g, (float)want) << "ta " << ta << " tb " << tb << " beta " << beta << " C(" << i << "," << j
                                      << ")";
          }
      }
  // Leading dimensions below the rows are rejected, as cuBLAS does.
  const float one = 1.0f;
  EXPECT_EQ(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, &one, nullptr, 3, nullptr, 4, &one, nullptr, 4),
            CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(cublasDestroy(h), CUBLAS_STATUS_SUCCESS);
}

TEST_F(CudaEmu, CublasGemmExBf16MatchesTheDefinition) {
  const GemmShape sh;
  Stream s;
  cublasHandle_t h = nullptr;
  ASSERT_EQ(cublasCreate(&h), CUBLAS_STATUS_SUCCESS);
  ASSERT_EQ(cublasSetStream(h, s), CUBLAS_STATUS_SUCCESS);
  const bfloat nan_bf{0xFFFF};
  for (cudaDataType ctype : {CUDA_R_32F, CUDA_R_16BF})
    for (cublasOperation_t ta : {CUBLAS_OP_N, CUBLAS_OP_T})
      for (cublasOperation_t tb : {CUBLAS_OP_N, CUBLAS_OP_T})
        for (float beta : {0.0f, 1.0f}) {
          const int rows_a = ta == CUBLAS_OP_N ? sh.m : sh.k, cols_a = ta == CUBLAS_OP_N ? sh.k : sh.m;
          const int rows_b = tb == CUBLAS_OP_N ? sh.k : sh.n, cols_b = tb == CUBLAS_OP_N ? sh.n : sh.k;
          const int lda = rows_a + 1, ldb = rows_b + 5, ldc = sh.m + 2;
          std::vector<bfloat> a(lda * cols_a, nan_bf), b(ldb * cols_b, nan_bf);
          for (int j = 0; j < cols_a; ++j)
            for (int i = 0; i < rows_a; ++i) a[j * lda + i] = __float2bfloat16_rn(gemm_value(j * rows_a + i, 4));
          for (int j = 0; j < cols_b; ++j)
            for (int i = 0; i < rows_b; ++i) b[j * ldb + i] = __float2bfloat16_rn(gemm_value(j * rows_b + i, 5));
          std::vector<float> c_host(ldc * sh.n, NAN);  // the C values, whatever its type
          if (beta != 0.0f)
            for (int j = 0; j < sh.n; ++j)
              for (int i = 0; i < sh.m; ++i) c_host[j * ldc + i] = gemm_value(j * sh.m + i, 6) + 0.125f;
          DeviceArray<bfloat> da(a.size()), db(b.size());
          da.upload(a, s);
          db.upload(b, s);
          DeviceArray<float> dc32(c_host.size());
          DeviceArray<bfloat> dc16(c_host.size());
          void* dc = nullptr;
          if (ctype == CUDA_R_32F) {
            dc32.upload(c_host, s);
            dc = dc32.get();
          } else {
            std::vector<bfloat> c16(c_host.size());
            for (size_t i = 0; i < c16.size(); ++i) c16[i] = __float2bfloat16_rn(c_host[i]);
            dc16.upload(c16, s);
            dc = dc16.get();
          }
          const float alpha = 0.75f;
          ASSERT_EQ(cublasGemmEx(h, ta, tb, sh.m, sh.n, sh.k, &alpha, da.get(), CUDA_R_16BF, lda, db.get(), CUDA_R_16BF,
                                 ldb, &beta, dc, ctype, ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                    CUBLAS_STATUS_SUCCESS);
          std::vector<float> got(c_host.size());
          if (ctype == CUDA_R_32F) {
            got = dc32.download(s);
          } else {
            const std::vector<bfloat> g16 = dc16.download(s);
            for (size_t i = 0; i < got.size(); ++i) got[i] = __bfloat162float(g16[i]);
          }
          for (int j = 0; j < sh.n; ++j)
            for (int i = 0; i < ldc; ++i) {
              const float g = got[j * ldc + i];
              if (i >= sh.m) {
                EXPECT_TRUE(std::isnan(g)) << "padding of C written";
                continue;
              }
              double sum = 0;
              for (int p = 0; p < sh.k; ++p)
                sum += (double)__bfloat162float(a[op_index(ta, i, p, lda)]) *
                       (double)__bfloat162float(b[op_index(tb, p, j, ldb)]);
              double want = alpha * sum;
              if (beta != 0.0f) {
                const float c_in = ctype == CUDA_R_32F ? c_host[j * ldc + i]
                                                       : __bfloat162float(__float2bfloat16_rn(c_host[j * ldc + i]));
                want += beta * (double)c_in;
              }
              // Exact in fp32; a bf16 C rounds that once.
              const float want_f =
                  ctype == CUDA_R_32F ? (float)want : __bfloat162float(__float2bfloat16_rn((float)want));
              EXPECT_EQ(g, want_f) << "C " << (ctype == CUDA_R_32F ? "fp32" : "bf16") << " ta " << ta << " tb " << tb
                                   << " beta " << beta << " C(" << i << "," << j << ")";
            }
        }
  // Mixed operand types are not supported.
  const float one = 1.0f;
  EXPECT_EQ(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 2, &one, nullptr, CUDA_R_16BF, 2, nullptr, CUDA_R_32F, 2,
                         &one, nullptr, CUDA_R_32F, 2, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
            CUBLAS_STATUS_NOT_SUPPORTED);
  EXPECT_EQ(cublasDestroy(h), CUBLAS_STATUS_SUCCESS);
}

// A bf16 C is as lossy as cuBLAS may make it: the sum is rounded to bf16 after every 8 terms of K (its split-K
// kernels reduce in the output type), so code that assumes one rounding fails here as it did on an H200.
TEST_F(CudaEmu, CublasGemmExBf16OutputIsRoundedAfterEveryKSlice) {
  const int m = 16, n = 8, k = 33;
  Stream s;
  cublasHandle_t h = nullptr;
  ASSERT_EQ(cublasCreate(&h), CUBLAS_STATUS_SUCCESS);
  ASSERT_EQ(cublasSetStream(h, s), CUBLAS_STATUS_SUCCESS);
  std::vector<bfloat> a((size_t)m * k), b((size_t)n * k), c((size_t)m * n);  // A [m,k], B^T [n,k], C [m,n]
  auto value = [](size_t i, double salt) { return __float2bfloat16_rn((float)std::sin(1.37 * (double)i + salt)); };
  for (size_t i = 0; i < a.size(); ++i) a[i] = value(i, 0.1);  // full-mantissa values: their sums round in bf16
  for (size_t i = 0; i < b.size(); ++i) b[i] = value(i, 0.2);
  for (size_t i = 0; i < c.size(); ++i) c[i] = value(i, 0.3);
  DeviceArray<bfloat> da(a.size()), db(b.size()), dc(c.size());
  da.upload(a, s);
  db.upload(b, s);
  dc.upload(c, s);
  const float one = 1.0f;
  ASSERT_EQ(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_T, m, n, k, &one, da.get(), CUDA_R_16BF, m, db.get(), CUDA_R_16BF,
                         n, &one, dc.get(), CUDA_R_16BF, m, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
            CUBLAS_STATUS_SUCCESS);
  const std::vector<bfloat> got = dc.download(s);
  int off_sliced = 0, off_once = 0;
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i) {
      const size_t at = (size_t)j * m + i;
      double sliced = __bfloat162float(c[at]), once = sliced;
      for (int p0 = 0; p0 < k; p0 += 8) {
        double part = 0;
        for (int p = p0; p < std::min(k, p0 + 8); ++p)
          part += (double)__bfloat162float(a[(size_t)p * m + i]) * __bfloat162float(b[(size_t)p * n + j]);
        sliced = __bfloat162float(__float2bfloat16_rn((float)(sliced + part)));
        once += part;
      }
      const float g = __bfloat162float(got[at]);
      off_sliced += g != (float)sliced;
      off_once += g != __bfloat162float(__float2bfloat16_rn((float)once));
    }
  EXPECT_LE(off_sliced, m * n / 20) << "only sums within fp32 noise of a bf16 rounding boundary may differ";
  EXPECT_GT(off_once, m * n / 10) << "a bf16 C must not look like one rounding of the fp32 sum";
  EXPECT_EQ(cublasDestroy(h), CUBLAS_STATUS_SUCCESS);
}

TEST_F(CudaEmu, CublasRunsOnItsStreamLazily) {
  Stream s;
  cublasHandle_t h = nullptr;
  ASSERT_EQ(cublasCreate(&h), CUBLAS_STATUS_SUCCESS);
  ASSERT_EQ(cublasSetStream(h, s), CUBLAS_STATUS_SUCCESS);
  DeviceArray<float> a(4), b(4), c(4);
  a.upload({1, 2, 3, 4}, s);
  b.upload({1, 0, 0, 1}, s);
  const float one = 1.0f, zero = 0.0f;
  ASSERT_EQ(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 2, &one, a.get(), 2, b.get(), 2, &zero, c.get(), 2),
            CUBLAS_STATUS_SUCCESS);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(std::isnan(c.get()[i])) << "the GEMM ran before its stream was synced";
  const std::vector<float> got = c.download(s);
  EXPECT_EQ(got, (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(cublasDestroy(h), CUBLAS_STATUS_SUCCESS);
}

// ---- CUB ----------------------------------------------------------------------------------------------------------

template <class K>
std::pair<std::vector<K>, std::vector<int>> cub_sort(const std::vector<K>& keys, int begin_bit, int end_bit,
                                                     cudaStream_t s) {
  const int n = (int)keys.size();
  std::vector<int> values(n);
  std::iota(values.begin(), values.end(), 0);
  DeviceArray<K> kin(n), kout(n);
  DeviceArray<int> vin(n), vout(n);
  kin.upload(keys, s);
  vin.upload(values, s);
  size_t temp_bytes = 0;
  EXPECT_EQ(cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, kin.get(), kout.get(), vin.get(), vout.get(), n,
                                            begin_bit, end_bit, s),
            cudaSuccess);
  EXPECT_GT(temp_bytes, 0u);
  DeviceArray<unsigned char> temp(temp_bytes);
  EXPECT_EQ(cub::DeviceRadixSort::SortPairs(temp.get(), temp_bytes, kin.get(), kout.get(), vin.get(), vout.get(), n,
                                            begin_bit, end_bit, s),
            cudaSuccess);
  return {kout.download(s), vout.download(s)};
}

TEST_F(CudaEmu, CubSortPairsIsStableInSignedKeyOrder) {
  Stream s;
  const std::vector<int32_t> keys = {5, -3, 5, 0, -3, INT32_MIN, INT32_MAX, 2, -1, 5, 0, -3, INT32_MIN, 7};
  const auto [sorted_keys, values] = cub_sort(keys, 0, 32, s);
  std::vector<int> want(keys.size());
  std::iota(want.begin(), want.end(), 0);
  std::stable_sort(want.begin(), want.end(), [&](int x, int y) { return keys[x] < keys[y]; });
  EXPECT_EQ(values, want);
  for (size_t i = 0; i < keys.size(); ++i) EXPECT_EQ(sorted_keys[i], keys[want[i]]);
  EXPECT_EQ(sorted_keys.front(), INT32_MIN);
  EXPECT_EQ(sorted_keys.back(), INT32_MAX);

  const std::vector<int64_t> keys64 = {-1, 3, INT64_MIN, -1, 0, INT64_MAX, 3, -2};
  const auto [sorted64, values64] = cub_sort(keys64, 0, 64, s);
  std::vector<int> want64(keys64.size());
  std::iota(want64.begin(), want64.end(), 0);
  std::stable_sort(want64.begin(), want64.end(), [&](int x, int y) { return keys64[x] < keys64[y]; });
  EXPECT_EQ(values64, want64);
}

TEST_F(CudaEmu, CubSortPairsOnABitRangeKeepsTiesInOrder) {
  Stream s;
  std::vector<uint32_t> keys(64);
  for (size_t i = 0; i < keys.size(); ++i) keys[i] = (uint32_t)(i * 2654435761u);
  const auto [sorted_keys, values] = cub_sort(keys, 4, 8, s);  // bits 4..7 only: 16 buckets, many ties
  const auto digit = [](uint32_t x) { return (x >> 4) & 15u; };
  std::vector<int> want(keys.size());
  std::iota(want.begin(), want.end(), 0);
  std::stable_sort(want.begin(), want.end(), [&](int x, int y) { return digit(keys[x]) < digit(keys[y]); });
  EXPECT_EQ(values, want);
  for (size_t i = 0; i < keys.size(); ++i) EXPECT_EQ(sorted_keys[i], keys[want[i]]);
}

// ---- wmma -------------------------------------------------------------------------------------------------------

template <class LayoutB>
void check_wmma(bool use_c) {
  constexpr int kWarps = 2, lda = 24, ldb = 20, ldc = 18;
  const bool b_col = std::is_same_v<LayoutB, nvcuda::wmma::col_major>;
  const bfloat nan_bf{0xFFFF};
  // Tile w of A: rows 16w.. of a [32][lda] row-major array; of B: the w-th [16][ldb] block; padding NaN.
  std::vector<bfloat> a(kWarps * 16 * lda, nan_bf), b(kWarps * 16 * ldb, nan_bf);
  std::vector<float> c(kWarps * 16 * ldc, NAN);
  const auto a_at = [&](int w, int i, int kk) -> bfloat& { return a[(w * 16 + i) * lda + kk]; };
  // B(kk, j): row_major at [kk * ldb + j], col_major at [j * ldb + kk].
  const auto b_at = [&](int w, int kk, int j) -> bfloat& {
    return b[w * 16 * ldb + (b_col ? j * ldb + kk : kk * ldb + j)];
  };
  for (int w = 0; w < kWarps; ++w)
    for (int i = 0; i < 16; ++i)
      for (int j = 0; j < 16; ++j) {
        a_at(w, i, j) = __float2bfloat16_rn(gemm_value(w * 256 + i * 16 + j, 7));
        b_at(w, i, j) = __float2bfloat16_rn(gemm_value(w * 256 + i * 16 + j, 8));
        c[(w * 16 + i) * ldc + j] = gemm_value(w * 256 + i * 16 + j, 9);
      }
  DeviceArray<bfloat> da(a.size()), db(b.size());
  DeviceArray<float> dc(c.size()), d_row(kWarps * 256), d_col(kWarps * 256);
  da.upload(a);
  db.upload(b);
  dc.upload(c);
  for (const Order& o : all_orders()) {
    set_thread_order(o.order, o.seed);
    STRATA_LAUNCH(k::wmma_kernel<LayoutB>, 1, 32 * kWarps, 0, nullptr)
    (da.get(), db.get(), dc.get(), d_row.get(), d_col.get(), lda, ldb, ldc, use_c);
    const std::vector<float> row = d_row.download(), col = d_col.download();
    for (int w = 0; w < kWarps; ++w)
      for (int i = 0; i < 16; ++i)
        for (int j = 0; j < 16; ++j) {
          double want = use_c ? c[(w * 16 + i) * ldc + j] : 0.0;
          for (int kk = 0; kk < 16; ++kk)
            want += (double)__bfloat162float(a_at(w, i, kk)) * (double)__bfloat162float(b_at(w, kk, j));
          ASSERT_EQ(row[w * 256 + i * 16 + j], (float)want)
              << o.name << (b_col ? " B col_major" : " B row_major") << " warp " << w << " D(" << i << "," << j << ")";
          ASSERT_EQ(col[w * 256 + j * 16 + i], (float)want) << o.name << " column-major store";
        }
  }
}

TEST_F(CudaEmu, WmmaTileWithRowMajorB) {
  check_wmma<nvcuda::wmma::row_major>(true);
  check_wmma<nvcuda::wmma::row_major>(false);
}

TEST_F(CudaEmu, WmmaTileWithColMajorB) {
  check_wmma<nvcuda::wmma::col_major>(true);
  check_wmma<nvcuda::wmma::col_major>(false);
}

// Through the cuda-emu backend itself: a fresh Device buffer reads as NaN (nothing has written it), and so does a
// freed one (a use after free), while a written one reads back what was written.
TEST(CudaEmuBackend, FreshAndFreedDeviceMemoryReadAsNaN) {
  const auto be = ::strata::make_backend("cuda-emu");
  constexpr size_t kN = 1000;
  std::vector<float> host(kN, 1.0f);
  ::strata::Buffer buf = be->alloc(::strata::MemoryKind::Device, kN * sizeof(float), ::strata::MemoryCategory::Workspace);
  be->copy(host.data(), buf.data(), kN * sizeof(float));
  for (float v : host) ASSERT_TRUE(std::isnan(v)) << "a fresh device allocation must not read as zeros";
  const std::vector<float> ones(kN, 1.0f);
  be->copy(buf.data(), ones.data(), kN * sizeof(float));
  be->copy(host.data(), buf.data(), kN * sizeof(float));
  EXPECT_EQ(host, ones);
  void* stale = buf.data();
  buf.reset();
  be->copy(host.data(), stale, kN * sizeof(float));  // the arena's range, now free: emulation-only use after free
  for (float v : host) EXPECT_TRUE(std::isnan(v)) << "freed device memory must read as NaN";
}

}  // namespace
}  // namespace strata::cuda_emu
