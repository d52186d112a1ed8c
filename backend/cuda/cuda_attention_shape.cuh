// The dimensions every CUDA attention kernel takes by value (fp32 and bf16 tensor-core paths alike), derived once
// from an AttentionShape with its validity check. Private to backend/cuda/.
#pragma once
#include <cmath>

#include "backend/backend.h"
#include "backend/cuda/cuda_portable.h"
#include "core/check.h"

namespace strata::STRATA_CUDA_NS {

struct AttentionDims {
  int B, T, NH, NKV, HS, group;  // group = NH / NKV query heads per kv head
  float scale;                   // 1 / sqrt(HS)
};

inline AttentionDims attention_dims(const AttentionShape& a) {
  STRATA_CHECK(a.B > 0 && a.T > 0 && a.NH > 0 && a.NKV > 0 && a.HS > 0 && a.NH % a.NKV == 0,
               "attention: invalid shape (NKV must divide NH, all sizes positive)");
  return AttentionDims{a.B, a.T, a.NH, a.NKV, a.HS, a.NH / a.NKV, 1.0f / std::sqrt((float)a.HS)};
}

}  // namespace strata::STRATA_CUDA_NS
