// Reading one safetensors tensor in bounded pieces, converted to another dtype on the way: a read holds at most
// three piece-sized buffers (raw bytes, fp32 values, converted values), whatever the tensor's size.
#pragma once
#include <cstddef>
#include <functional>

#include "formats/safetensors.h"

namespace strata {

// The most elements one piece holds (8 MiB of fp32).
inline constexpr size_t kTensorPieceElems = size_t{2} << 20;

// Reads tensor `t` of `file` front to back in pieces of at most `max_elems` elements and calls
// sink(values, first, n) for each: `values` holds elements [first, first + n) converted to `to` (aligned for its
// element type, valid only during the call). F32 <-> BF16 / F16 conversions go through fp32 (round to nearest even).
void read_tensor_pieces(const SafetensorsFile& file, const SafetensorsTensor& t, DType to,
                        const std::function<void(const void* values, size_t first, size_t n)>& sink,
                        size_t max_elems = kTensorPieceElems);

}  // namespace strata
