// BlobSource: where a model's base weights come from, blob by blob (a seeded init, an HF folder...). Tiers and
// placement fill their copies through it without knowing what the source is.
#pragma once
#include "backend/backend.h"
#include "model/param_store.h"

namespace strata {

class BlobSource {
 public:
  virtual ~BlobSource() = default;
  // Allocates `blob` in `params` (when absent) and fills it with its base values.
  virtual void load_blob(ParamStore& params, BlobId blob, Backend& backend) const = 0;
};

}  // namespace strata
