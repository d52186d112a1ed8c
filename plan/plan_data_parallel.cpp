// size_data_parallel: what a data-parallel step sums over the ranks. LISA all-reduces only the trained tensors'
// gradients (gamma blocks, and the embedding, head and final norm where they train); full fine-tuning all of them.
#include "plan/plan_parts.h"

namespace strata {

namespace {
// The values of a blob's tensors (not its alignment padding): what is summed.
size_t tensor_bytes(const BlobLayout& b) {
  size_t n = 0;
  for (const TensorSpec& t : b.tensors) n += t.bytes();
  return n;
}
}  // namespace

void size_data_parallel(const PlanInputs& in, const PlanOptions& opts, Plan& p) {
  const ModelLayout& lay = in.layout;
  const size_t block = tensor_bytes(lay.block), embedding = tensor_bytes(lay.embedding),
               head = in.tied ? 0 : tensor_bytes(lay.head), norm = tensor_bytes(lay.final_norm);
  const size_t non_blocks =
      (in.train_embedding ? embedding : 0) + (in.train_final_norm ? norm : 0) + (in.train_head ? head : 0);
  p.ranks = opts.ranks;
  p.sharded = opts.ranks > 1 && (in.owned_blocks < in.gamma || !in.owns_embedding || !in.owns_head || !in.owns_final_norm);
  p.allreduce_bytes = (size_t)in.gamma * block + non_blocks;
  p.allreduce_bytes_full = (size_t)in.n_layers * block + embedding + norm + head;
  p.allreduce_sent_per_rank = opts.ranks > 1 ? 2.0 * (opts.ranks - 1) / opts.ranks * (double)p.allreduce_bytes : 0.0;
}

}  // namespace strata
