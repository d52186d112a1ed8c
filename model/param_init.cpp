// Seeded parameter init: host-side generation per blob, then one copy into the blob's memory kind.
// Norm weights (1-D tensors) are ones; everything else is Normal(0, std) from Rng(seed ^ hash(blob)).
#include "model/param_init.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/check.h"
#include "core/rng.h"
#include "core/dtype_convert.h"

namespace strata {

void generate_blob_init(const BlobLayout& layout, BlobId blob, uint64_t seed, float std, void* host) {
  unsigned char* base = static_cast<unsigned char*>(host);
  std::memset(base, 0, layout.bytes);
  Rng rng(seed * 0x9E3779B97F4A7C15ull + (uint64_t)blob.value + 1);
  // The values go through a bounded fp32 buffer, piece by piece in order (the same draws as one pass per tensor), so
  // the only blob-sized memory is `host` itself.
  constexpr int64_t kPiece = int64_t{1} << 20;
  std::vector<float> values;
  for (const TensorSpec& t : layout.tensors) {
    // The same fp32 values whatever the storage: a BF16 tensor holds them rounded.
    const int64_t n = t.numel();
    const size_t elem = dtype_size(t.dtype);
    for (int64_t first = 0; first < n; first += kPiece) {
      const int64_t m = std::min(kPiece, n - first);
      values.resize((size_t)m);
      if (t.shape.size() == 1) {
        for (int64_t i = 0; i < m; ++i) values[i] = 1.0f;
      } else {
        for (int64_t i = 0; i < m; ++i) values[i] = (float)(rng.normal() * std);
      }
      convert_from_f32(base + t.offset + (size_t)first * elem, values.data(), t.dtype, (size_t)m);
    }
  }
}

void init_blob_normal(ParamStore& params, Backend& backend, BlobId blob, uint64_t seed, float std) {
  params.allocate(blob);
  if (!params.has(blob)) return;
  const BlobLayout& layout = params.layout_of(blob);
  if (backend.caps().device_is_host) {  // straight into the blob: no blob-sized copy beside it
    generate_blob_init(layout, blob, seed, std, params.blob(blob));
    return;
  }
  std::vector<unsigned char> host(layout.bytes);
  generate_blob_init(layout, blob, seed, std, host.data());
  backend.copy(params.blob(blob), host.data(), layout.bytes);
}

void init_params_normal(ParamStore& params, Backend& backend, uint64_t seed, float std) {
  for (BlobId b : params.ids().all()) init_blob_normal(params, backend, b, seed, std);
}

}  // namespace strata
