// Backend registry: which backends this build and machine can run, and construction by name
// ("cpu", "ref", "cuda" / "cuda:N", "cuda-emu[:forward|reverse|shuffle]": the CUDA sources on the CPU emulation).
// Unavailable backends come with a reason, for skip messages.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"

namespace strata {

struct BackendAvailability {
  std::string name;
  bool available = false;
  std::string reason;  // why it is unavailable
};

// Every backend this build knows, with whether it can run on this machine.
std::vector<BackendAvailability> list_backends();
// Constructs a backend by name; throws StrataError naming the backend and the reason when it cannot.
std::unique_ptr<Backend> make_backend(const std::string& name);

}  // namespace strata
