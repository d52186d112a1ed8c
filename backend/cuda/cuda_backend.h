// CUDA backend entry points, declared without CUDA headers so the backend registry can call them. The same sources
// build twice: cuda_real with nvcc (when the toolkit is found) and cuda_emu with the host compiler against the CPU
// emulation of the CUDA subset they use (backend/cuda/emulation/, always built). The registry probes before it
// constructs one.
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace strata {

class Backend;

// The bf16 linear's weight gradient is summed in fp32 scratch of at most this many floats (whole rows of dw at a
// time) and then added to the bf16 dw with one rounding; the planner counts this scratch.
inline constexpr size_t kBf16WeightGradChunkFloats = size_t{32} << 20;  // 128 MiB: 2 GEMMs for a 7B MLP weight

namespace cuda_real {
// Number of usable CUDA devices; 0 (with the reason in *why) when the driver or a device is missing.
int cuda_device_count(std::string* why);
std::unique_ptr<Backend> make_cuda_backend(int device);
}  // namespace cuda_real

namespace cuda_emu {
int cuda_device_count(std::string* why);  // the emulated device: always 1
std::unique_ptr<Backend> make_cuda_backend(int device);
// How the emulated device orders the threads of a block between barriers, and the blocks of a grid: "forward",
// "reverse" or "shuffle" (seeded, new at every barrier). Throws naming the order when it is none of them. The setting
// is the emulated device's, so it applies to every cuda-emu backend in the process.
void set_thread_order(const std::string& order);
std::vector<std::string> thread_orders();  // the names set_thread_order takes
}  // namespace cuda_emu

}  // namespace strata
