// Scratch sizing of the CPU backend's bf16-unit attention (cpu_attention_bf16.cpp): the packed bf16 q/k/v/dO, one
// query block's scores and probabilities, and oneDNN's scratchpad, for the sequences it does at a time.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "backend/backend.h"

namespace strata {

// The scratch the bf16-unit attention aims at: it does as many sequences at a time as fit (at least one). Larger
// batched matmuls and fewer passes are faster (8 MiB chunks cost the small preset's attention 30%).
inline constexpr size_t kBf16AttentionChunkBytes = size_t{64} << 20;

// Bytes of the op scratch an attention call of shape `s` (bf16_inputs) takes on the bf16 units, in whole granules.
size_t bf16_attention_scratch_bytes(const AttentionShape& s, size_t chunk_bytes = kBf16AttentionChunkBytes);
// "<matmul> qb=<block>: <oneDNN implementation>" for every matmul such a call runs (test_cpu_bf16_attention checks
// that none is a reference implementation).
std::vector<std::string> bf16_attention_implementations(const AttentionShape& s);

}  // namespace strata
