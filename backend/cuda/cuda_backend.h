// CUDA backend entry points, declared without CUDA headers so the core library can call them.
// Only compiled when STRATA_HAVE_CUDA; the registry probes for a device before constructing one.
#pragma once
#include <memory>
#include <string>

namespace strata {

class Backend;

// Number of usable CUDA devices; 0 (with the reason in *why) when the driver or a device is missing.
int cuda_device_count(std::string* why);
std::unique_ptr<Backend> make_cuda_backend(int device);

}  // namespace strata
