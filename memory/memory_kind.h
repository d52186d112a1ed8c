// Memory kinds (tiers an allocation lives in) and categories (what the bytes are for).
// The allocator accounts every byte under one (kind, category) pair; the planner speaks the same vocabulary.
#pragma once
#include <cstddef>
#include <cstdint>

namespace strata {

enum class MemoryKind : uint8_t {
  Device,      // accelerator memory; on the CPU backend a host allocation accounted as device
  HostPinned,  // page-locked host memory usable by async DMA (cudaHostAlloc); plain aligned memory on CPU
  Host,        // ordinary pageable host memory
};
inline constexpr int kNumMemoryKinds = 3;

enum class MemoryCategory : uint8_t {
  Weights,         // working copies of parameters used by compute
  MasterWeights,   // fp32 master copies of trained parameters
  Grads,           // parameter gradients
  OptimizerState,  // AdamW first/second moments
  Activations,     // saved activations (block inputs, intermediates kept for backward)
  Workspace,       // scratch: recompute buffers, gradient scratch, GEMM workspace, logits
  Streaming,       // slots and staging buffers for streamed (offloaded) layers
  KvCache,         // generation: the cached keys and values of every layer
  Other,
};
inline constexpr int kNumMemoryCategories = 9;

const char* to_string(MemoryKind kind);
const char* to_string(MemoryCategory category);

}  // namespace strata
