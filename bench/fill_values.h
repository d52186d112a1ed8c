// Deterministic pseudo-random values for benchmark tensors: uniform with standard deviation `std` (ones when `ones`,
// for norm weights), written in `dtype` on all cores. Faster than the engine's seeded init; the values do not matter.
#pragma once
#include <cstdint>

#include "core/dtype.h"

namespace strata::bench {

// `first` is the index of dst's first element in its tensor (a piece of a tensor gets the values the whole tensor has
// there).
void fill_values_from(void* dst, DType dtype, int64_t n, bool ones, float std, uint64_t salt, int64_t first);
// A whole tensor (first = 0): the FillFn of block_op_breakdown.
void fill_values(void* dst, DType dtype, int64_t n, bool ones, float std, uint64_t salt);

}  // namespace strata::bench
