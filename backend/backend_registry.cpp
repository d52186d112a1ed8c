// Backend registry implementation: CPU and reference backends always; CUDA when compiled in and a device answers.
// A missing driver or device is "unavailable", never an error, so tests can skip cleanly.
#include "backend/backend_registry.h"

#include <algorithm>

#include "backend/cpu/cpu_backend.h"
#include "backend/cuda/cuda_backend.h"
#include "backend/ref/ref_backend.h"
#include "core/check.h"
#include "core/enum_names.h"

namespace strata {

std::vector<BackendAvailability> list_backends() {
  std::vector<BackendAvailability> out;
  out.push_back({"cpu", true, ""});
  out.push_back({"ref", true, ""});
  out.push_back({"cuda-emu", true, ""});  // the CUDA backend's sources on the CPU emulation of the device
#ifdef STRATA_HAVE_CUDA
  std::string why;
  const int n = cuda_real::cuda_device_count(&why);
  if (n == 0) out.push_back({"cuda:0", false, "no usable CUDA device (" + why + ")"});
  for (int i = 0; i < n; ++i) out.push_back({"cuda:" + std::to_string(i), true, ""});
#else
  out.push_back({"cuda:0", false, "this build has no CUDA backend (configure with -DSTRATA_CUDA=ON)"});
#endif
  return out;
}

std::unique_ptr<Backend> make_backend(const std::string& name) {
  if (name == "cpu") return std::make_unique<CpuBackend>();
  if (name == "ref") return std::make_unique<RefBackend>();
  if (name == "cuda-emu" || name.rfind("cuda-emu:", 0) == 0) {
    // cuda-emu[:forward|reverse|shuffle]: the thread order between barriers (forward by default). The order belongs
    // to the one emulated device: the newest cuda-emu backend's order applies to every cuda-emu backend alive.
    const std::string order = name.size() > 9 ? name.substr(9) : "forward";
    const std::vector<std::string> orders = cuda_emu::thread_orders();
    if (std::find(orders.begin(), orders.end(), order) == orders.end())
      fail_unknown_name("backend '" + name + "': thread order", order, orders);
    cuda_emu::set_thread_order(order);
    return cuda_emu::make_cuda_backend(0);
  }
  if (name == "cuda" || name.rfind("cuda:", 0) == 0) {
    int device = 0;
    if (name.size() > 5) {
      try {
        device = std::stoi(name.substr(5));
      } catch (...) {
        STRATA_USER_FAIL("backend '" + name + "': expected cuda:N with N a device number");
      }
    }
#ifdef STRATA_HAVE_CUDA
    std::string why;
    const int n = cuda_real::cuda_device_count(&why);
    STRATA_USER_CHECK(device >= 0 && device < n, "backend '" + name + "' is not available: " +
                                                     (n == 0 ? why : std::to_string(n) + " CUDA device(s) present"));
    return cuda_real::make_cuda_backend(device);
#else
    (void)device;
    STRATA_USER_FAIL("backend '" + name +
                     "' is not available: this build has no CUDA backend "
                     "(reconfigure with -DSTRATA_CUDA=ON on a machine with the CUDA toolkit)");
#endif
  }
  STRATA_USER_FAIL("unknown backend '" + name + "'; choose one of: cpu, ref, cuda:N, cuda-emu");
}

}  // namespace strata
