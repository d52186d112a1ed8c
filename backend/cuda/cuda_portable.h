// What lets one set of CUDA sources build twice: with nvcc for a GPU, and with the host compiler against the CPU
// emulation (backend/cuda/emulation/, STRATA_CUDA_EMULATION): the namespace each build's symbols live in, the kernel
// launch, and shared-memory declarations. With nvcc every macro expands to the plain CUDA spelling.
#pragma once

#ifndef STRATA_CUDA_NS
#define STRATA_CUDA_NS cuda_real  // the nvcc build; the emulation compiles the same files as cuda_emu
#endif

#ifdef STRATA_CUDA_EMULATION
#define STRATA_CUDA_EMULATED 1
// kernel<<<grid, block, smem, stream>>>(args...); template kernels deduce their arguments from the call, as with
// <<<>>>.
#define STRATA_LAUNCH(kernel, grid, block, smem, stream) \
  ::strata::cuda_emu::launch_kernel(                     \
      #kernel, [](auto... kernel_args) { kernel(kernel_args...); }, (grid), (block), (smem), (stream))
// __shared__ T name[n] inside a kernel or device function: one array per block, NaN-poisoned at the block's start.
#define STRATA_SHARED(T, name, n)           \
  static const char name##_shared_key_ = 0; \
  T* const name = ::strata::cuda_emu::block_shared<T>((n), &name##_shared_key_)
// extern __shared__ T name[] (the launch's dynamic shared memory), aligned to `align` bytes.
#define STRATA_DYNAMIC_SHARED(T, name, align) T* const name = ::strata::cuda_emu::dynamic_shared<T>()
#else
#define STRATA_CUDA_EMULATED 0
#define STRATA_LAUNCH(kernel, grid, block, smem, stream) kernel<<<(grid), (block), (smem), (stream)>>>
#define STRATA_SHARED(T, name, n) __shared__ T name[n]
// clang-format off
#define STRATA_DYNAMIC_SHARED(T, name, align) extern __shared__ __align__(align) T name[]
// clang-format on
#endif
