// OpKind: the ops a backend provides. One list (STRATA_OP_KINDS) generates the enum, its names and kNumOpKinds,
// so they cannot drift apart; the op-parity harness reports per backend which ones it ran.
#pragma once

namespace strata {

// X(Enumerator, "name"): one entry per op, in enum order. Names are printed by the tests and must stay stable.
// The *Bf16 ops serve bf16 storage (the mixed-precision engine, see "bf16 storage" in backend/backend.h).
#define STRATA_OP_KINDS(X)              \
  X(Embedding, "embedding")             \
  X(RmsNorm, "rmsnorm")                 \
  X(Linear, "linear")                   \
  X(Rope, "rope")                       \
  X(Attention, "attention")             \
  X(AttentionCached, "attention_cached") \
  X(SwiGLU, "swiglu")                   \
  X(Add, "add")                         \
  X(CrossEntropy, "cross_entropy")      \
  X(Fill, "fill")                       \
  X(AdamW, "adamw")                     \
  X(SumSquares, "sum_squares")          \
  X(LinearBf16, "linear_bf16")          \
  X(EmbeddingBf16, "embedding_bf16")    \
  X(AdamWBf16, "adamw_bf16")            \
  X(SumSquaresBf16, "sum_squares_bf16") \
  X(ConvertBf16, "convert_bf16")

#define STRATA_OP_KIND_ENUMERATOR(enumerator, name) enumerator,
#define STRATA_OP_KIND_NAME(enumerator, name) name,

enum class OpKind { STRATA_OP_KINDS(STRATA_OP_KIND_ENUMERATOR) };
// The names, indexed by (int)OpKind.
inline constexpr const char* kOpKindNames[] = {STRATA_OP_KINDS(STRATA_OP_KIND_NAME)};
inline constexpr int kNumOpKinds = static_cast<int>(sizeof(kOpKindNames) / sizeof(kOpKindNames[0]));

#undef STRATA_OP_KIND_ENUMERATOR
#undef STRATA_OP_KIND_NAME

// "embedding", "rmsnorm", ...; "?" for a value outside the list.
constexpr const char* to_string(OpKind op) {
  const int i = static_cast<int>(op);
  return i >= 0 && i < kNumOpKinds ? kOpKindNames[i] : "?";
}

}  // namespace strata
