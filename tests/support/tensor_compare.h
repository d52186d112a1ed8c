// Test helpers: seeded random host data, device upload/download, and normalised error between tensors.
// Shared by the op harness, gradient checks and model parity tests.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "model/param_layout.h"

namespace strata::test {

// printf-style formatting into a std::string (test messages).
std::string strfmt(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

std::vector<float> random_vector(size_t n, uint64_t seed, float scale = 1.0f);

// Allocates a Device buffer on `be` holding `host`.
Buffer upload(Backend& be, const std::vector<float>& host, MemoryCategory cat = MemoryCategory::Other);
Buffer upload_i32(Backend& be, const std::vector<int32_t>& host);
std::vector<float> download(Backend& be, const float* dev, size_t n);
// Writes fp32 `host` values into device memory holding `dtype` (F32, or BF16 rounded to nearest even).
void upload_as(Backend& be, void* dev, DType dtype, const std::vector<float>& host);
// Reads n values of `dtype` (F32 or BF16) from device memory as fp32 (exact).
std::vector<float> download_as_f32(Backend& be, const void* dev, DType dtype, size_t n);

struct ErrorStats {
  double rel_l2 = 0;       // ||a - b|| / max(||b||, tiny)
  double max_abs = 0;      // max |a - b|
  double max_ref = 0;      // max |b|
  bool finite = true;      // every a is finite
  std::string describe() const;
};
ErrorStats compare(const float* a, const float* ref, size_t n);

}  // namespace strata::test
