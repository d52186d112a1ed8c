// Implements tensor_pieces.h: pread a piece of raw bytes, convert it through fp32 when the dtypes differ, hand it on.
// The buffers are sized for one piece and allocated once per tensor.
#include "formats/tensor_pieces.h"

#include <algorithm>
#include <memory>

#include "core/check.h"
#include "core/dtype_convert.h"

namespace strata {

void read_tensor_pieces(const SafetensorsFile& file, const SafetensorsTensor& t, DType to,
                        const std::function<void(const void* values, size_t first, size_t n)>& sink,
                        size_t max_elems) {
  STRATA_CHECK(max_elems > 0, file.path() + ": tensor '" + t.name + "': a piece must hold at least one element");
  const size_t numel = static_cast<size_t>(t.numel());
  if (numel == 0) return;
  const size_t piece = std::min(numel, max_elems);
  const size_t from_size = dtype_size(t.dtype), to_size = dtype_size(to);
  const auto raw = std::make_unique_for_overwrite<unsigned char[]>(piece * from_size);
  std::unique_ptr<float[]> f32;
  std::unique_ptr<unsigned char[]> out;
  if (t.dtype != to && to != DType::F32) out = std::make_unique_for_overwrite<unsigned char[]>(piece * to_size);
  if (t.dtype != to && t.dtype != DType::F32) f32 = std::make_unique_for_overwrite<float[]>(piece);
  for (size_t first = 0; first < numel; first += piece) {
    const size_t n = std::min(piece, numel - first);
    file.read(t, first * from_size, raw.get(), n * from_size);
    if (t.dtype == to) {
      sink(raw.get(), first, n);
      continue;
    }
    // fp32 values: the raw bytes themselves when the file holds F32, else converted.
    const float* values = reinterpret_cast<const float*>(raw.get());
    if (t.dtype != DType::F32) {
      convert_to_f32(f32.get(), raw.get(), t.dtype, n);
      values = f32.get();
    }
    if (to == DType::F32) {
      sink(values, first, n);
    } else {
      convert_from_f32(out.get(), values, to, n);
      sink(out.get(), first, n);
    }
  }
}

}  // namespace strata
