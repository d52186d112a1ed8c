// Backend registry implementation: CPU and reference backends always; CUDA when compiled in and a device answers.
// A missing driver or device is "unavailable", never an error, so tests can skip cleanly.
#include "backend/backend_registry.h"

#include "backend/cpu/cpu_backend.h"
#include "backend/ref/ref_backend.h"
#include "core/check.h"
#ifdef STRATA_HAVE_CUDA
#include "backend/cuda/cuda_backend.h"
#endif

namespace strata {

std::vector<BackendAvailability> list_backends() {
  std::vector<BackendAvailability> out;
  out.push_back({"cpu", true, ""});
  out.push_back({"ref", true, ""});
#ifdef STRATA_HAVE_CUDA
  std::string why;
  const int n = cuda_device_count(&why);
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
  if (name == "cuda" || name.rfind("cuda:", 0) == 0) {
    int device = 0;
    if (name.size() > 5) {
      try {
        device = std::stoi(name.substr(5));
      } catch (...) {
        STRATA_FAIL("backend '" + name + "': expected cuda:N with N a device number");
      }
    }
#ifdef STRATA_HAVE_CUDA
    std::string why;
    const int n = cuda_device_count(&why);
    STRATA_CHECK(device >= 0 && device < n, "backend '" + name + "' is not available: " +
                                                (n == 0 ? why : std::to_string(n) + " CUDA device(s) present"));
    return make_cuda_backend(device);
#else
    (void)device;
    STRATA_FAIL("backend '" + name + "' is not available: this build has no CUDA backend "
                "(reconfigure with -DSTRATA_CUDA=ON on a machine with the CUDA toolkit)");
#endif
  }
  STRATA_FAIL("unknown backend '" + name + "'; choose one of: cpu, ref, cuda:N");
}

}  // namespace strata
