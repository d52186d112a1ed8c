// CUDA error checks for the CUDA backend: runtime calls, kernel launches and cuBLAS calls throw StrataError
// naming what failed (file:line through STRATA_FAIL). Private to backend/cuda/.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <string>

#include "core/check.h"

#define STRATA_CUDA_CHECK(expr)                                                                          \
  do {                                                                                                  \
    cudaError_t err_ = (expr);                                                                          \
    if (err_ != cudaSuccess) STRATA_FAIL(std::string(#expr) + " failed: " + cudaGetErrorString(err_)); \
  } while (0)

// After every kernel launch: a bad configuration (too many threads, too much shared memory) shows up here.
#define STRATA_CUDA_LAUNCH_CHECK(kernel_name)                                                        \
  do {                                                                                              \
    cudaError_t err_ = cudaGetLastError();                                                          \
    if (err_ != cudaSuccess)                                                                        \
      STRATA_FAIL(std::string("CUDA kernel ") + (kernel_name) + " failed to launch: " +             \
                  cudaGetErrorString(err_));                                                        \
  } while (0)

#define STRATA_CUBLAS_CHECK(expr)                                                                      \
  do {                                                                                                \
    cublasStatus_t st_ = (expr);                                                                      \
    if (st_ != CUBLAS_STATUS_SUCCESS)                                                                 \
      STRATA_FAIL(std::string(#expr) + " failed: " + cublasGetStatusString(st_));                    \
  } while (0)
