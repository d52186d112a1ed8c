// Kernel execution on the emulated device, private to backend/cuda/emulation/: a launch's configuration check and
// running a launch (every block, each block's threads as fibers) when its stream reaches it.
#pragma once
#include <cstddef>
#include <functional>
#include <string>

#include "backend/cuda/emulation/emu_device.h"

namespace strata::cuda_emu {

struct LaunchSpec {
  const char* name;
  dim3 grid, block;
  size_t dynamic_smem;
  std::function<void()> body;  // one call per thread
};

// Empty when the launch can run; else what is wrong ("has 2048 threads per block, more than 1024").
std::string launch_config_problem(dim3 grid, dim3 block);
// Runs every block of the launch; throws naming the kernel, the block and the thread on a barrier that only part of
// a block (or warp) reaches, or on an exception escaping a thread.
void run_launch(const LaunchSpec& launch);

}  // namespace strata::cuda_emu
