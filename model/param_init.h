// Seeded parameter initialisation, HF LLaMA style: weights ~ Normal(0, std), RMSNorm weights = 1.
// Each blob draws from its own stream (seed, blob id), so a block's values do not depend on which others exist.
#pragma once
#include <cstdint>

#include "model/param_store.h"

namespace strata {

void init_params_normal(ParamStore& params, Backend& backend, uint64_t seed, float std = 0.02f);
// Writes blob `blob`'s initial values (F32, layout.bytes bytes, padding zeroed) into host memory. This is the
// one definition of the init: init_blob_normal and `strata init-model` both call it.
void generate_blob_init(const BlobLayout& layout, BlobId blob, uint64_t seed, float std, void* host);
// Initialises one blob only (same values init_params_normal would give it).
void init_blob_normal(ParamStore& params, Backend& backend, BlobId blob, uint64_t seed, float std = 0.02f);

}  // namespace strata
