// Test helpers for suites parameterised by backend: which backends they run on, and construction that reports why a
// backend cannot run here (for GTEST_SKIP) instead of throwing.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/backend_registry.h"

namespace strata::test {

// The device backends every model-level suite runs on besides the cpu backend: the CUDA sources on the CPU
// emulation of the device (always available, so the CUDA code paths are tested on every machine) and the real
// device (skipped where there is no GPU).
inline const std::vector<std::string>& cuda_backends() {
  static const std::vector<std::string> v = {"cuda-emu", "cuda:0"};
  return v;
}

// False (with the reason in *why) when list_backends() reports `name` unavailable. Names it does not list (the
// thread-order variants "cuda-emu:reverse", "cuda-emu:shuffle") count as available: make_backend judges them.
inline bool backend_available(const std::string& name, std::string* why = nullptr) {
  for (const auto& b : list_backends())
    if (b.name == name) {
      if (!b.available && why) *why = b.reason;
      return b.available;
    }
  return true;
}

// nullptr (with the reason in *why) when the backend cannot run here, e.g. cuda:0 without a GPU.
inline std::unique_ptr<Backend> make_backend_if_available(const std::string& name, std::string* why) {
  if (!backend_available(name, why)) return nullptr;
  return make_backend(name);
}

// A backend name as a gtest parameter name: "cuda-emu:reverse" -> "cuda_emu_reverse".
inline std::string backend_id(std::string name) {
  for (auto& ch : name)
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))) ch = '_';
  return name;
}

}  // namespace strata::test
