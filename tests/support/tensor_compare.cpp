// Implementation of the test helpers in tensor_compare.h.
#include "tests/support/tensor_compare.h"

#include <cmath>
#include <cstdarg>
#include <cstdio>

#include "core/rng.h"
#include "core/dtype_convert.h"

namespace strata::test {

std::string strfmt(const char* f, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, f);
  std::vsnprintf(buf, sizeof buf, f, ap);
  va_end(ap);
  return buf;
}

std::vector<float> random_vector(size_t n, uint64_t seed, float scale) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = (float)(rng.normal() * scale);
  return v;
}

Buffer upload(Backend& be, const std::vector<float>& host, MemoryCategory cat) {
  Buffer b = be.alloc(MemoryKind::Device, host.size() * sizeof(float), cat, 64);
  be.copy(b.data(), host.data(), host.size() * sizeof(float));
  return b;
}

Buffer upload_i32(Backend& be, const std::vector<int32_t>& host) {
  Buffer b = be.alloc(MemoryKind::Device, host.size() * sizeof(int32_t), MemoryCategory::Other, 64);
  be.copy(b.data(), host.data(), host.size() * sizeof(int32_t));
  return b;
}

std::vector<float> download(Backend& be, const float* dev, size_t n) {
  std::vector<float> h(n);
  be.copy(h.data(), dev, n * sizeof(float));
  return h;
}

void upload_as(Backend& be, void* dev, DType dtype, const std::vector<float>& host) {
  std::vector<uint8_t> bytes(host.size() * dtype_size(dtype));
  convert_from_f32(bytes.data(), host.data(), dtype, host.size());
  be.copy(dev, bytes.data(), bytes.size());
}

std::vector<float> download_as_f32(Backend& be, const void* dev, DType dtype, size_t n) {
  std::vector<uint8_t> bytes(n * dtype_size(dtype));
  be.copy(bytes.data(), dev, bytes.size());
  std::vector<float> out(n);
  convert_to_f32(out.data(), bytes.data(), dtype, n);
  return out;
}

ErrorStats compare(const float* a, const float* ref, size_t n) {
  ErrorStats s;
  double num = 0, den = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(a[i])) s.finite = false;
    const double d = (double)a[i] - ref[i];
    num += d * d;
    den += (double)ref[i] * ref[i];
    s.max_abs = std::max(s.max_abs, std::fabs(d));
    s.max_ref = std::max(s.max_ref, std::fabs((double)ref[i]));
  }
  s.rel_l2 = std::sqrt(num) / std::max(std::sqrt(den), 1e-30);
  if (den == 0 && num == 0) s.rel_l2 = 0;
  return s;
}

std::string ErrorStats::describe() const {
  char buf[160];
  std::snprintf(buf, sizeof buf, "rel_l2=%.3g max_abs=%.3g max_ref=%.3g%s", rel_l2, max_abs, max_ref,
                finite ? "" : " NON-FINITE");
  return buf;
}

}  // namespace strata::test
