// size_checkpoints: what CheckpointStore::save writes, replayed on paper (weights.safetensors, optimizer.safetensors,
// state.json), how many checkpoints are on disk at once, and the disk a run needs with its disk-tier file.
#include <algorithm>

#include "plan/plan_parts.h"

namespace strata {
namespace {

// Upper bounds on the text around the tensor data: one safetensors header entry (a name under 100 characters,
// dtype, shape, offsets), the fixed parts of both files and of state.json, and state.json's lines per blob
// (adam_steps, active_blobs, dirty_blobs).
constexpr size_t kHeaderEntryBytes = 256, kFixedBytes = 4096, kStateBytesPerBlob = 48;

size_t data_bytes(const BlobLayout& b) {
  size_t n = 0;
  for (const TensorSpec& t : b.tensors) n += t.bytes();
  return n;
}

bool all_f32(const BlobLayout& b) {
  return std::all_of(b.tensors.begin(), b.tensors.end(), [](const TensorSpec& t) { return t.dtype == DType::F32; });
}

// Adds one trained blob: its tensors to the weights file (trainer's dirty blobs, written tensor by tensor in the
// working dtype) and, when it has optimizer state at save time, m and v (fp32, whole blob) plus an fp32 master
// where the optimizer keeps one (bf16 tensors; every blob on the host optimizer) to the optimizer file.
void add_blob(const BlobLayout& working, const BlobLayout& f32, bool has_state, bool host_optimizer, int count,
              Plan& p, size_t& entries) {
  if (working.bytes == 0 || count <= 0) return;  // the head of a model with tied embeddings has no blob
  p.checkpoint_weights_bytes += (size_t)count * data_bytes(working);
  entries += (size_t)count * working.tensors.size();
  if (!has_state) return;
  const int parts = 2 + (host_optimizer || !all_f32(working) ? 1 : 0);
  p.checkpoint_optimizer_bytes += (size_t)count * parts * f32.bytes;
  entries += (size_t)count * parts;
}

}  // namespace

void size_checkpoints(const PlanInputs& in, const RunConfig& cfg, Plan& p) {
  const ModelLayout &lay = in.layout, &lay32 = in.layout32;
  const int L = in.n_layers;
  // Blocks trained at some point: all of them for full fine-tuning; LISA samples gamma of all L blocks per period
  // (LisaSampler draws from every block), so at most gamma x periods distinct ones.
  int trained_blocks = L;
  if (in.lisa) {
    const long long periods = ((long long)cfg.train.steps + cfg.lisa.interval - 1) / cfg.lisa.interval;
    trained_blocks = (int)std::min<long long>(L, (long long)in.gamma * periods);
  }
  // Blocks with optimizer state at the last save: the active ones, plus the parked ones under "keep".
  const int stateful_blocks = in.keep_state ? trained_blocks : std::min(in.gamma, trained_blocks);
  p.checkpoint_weights_bytes = p.checkpoint_optimizer_bytes = 0;
  size_t entries = 0;
  add_blob(lay.block, lay32.block, true, in.host_optimizer, stateful_blocks, p, entries);
  add_blob(lay.block, lay32.block, false, in.host_optimizer, trained_blocks - stateful_blocks, p, entries);
  add_blob(lay.embedding, lay32.embedding, true, in.host_optimizer, in.train_embedding ? 1 : 0, p, entries);
  add_blob(lay.head, lay32.head, true, in.host_optimizer, in.train_head ? 1 : 0, p, entries);
  add_blob(lay.final_norm, lay32.final_norm, true, in.host_optimizer, in.train_final_norm ? 1 : 0, p, entries);
  p.checkpoint_overhead_bytes =
      kFixedBytes + entries * kHeaderEntryBytes + (size_t)BlobIds{L}.count() * kStateBytesPerBlob;
  p.checkpoint_bytes = p.checkpoint_weights_bytes + p.checkpoint_optimizer_bytes + p.checkpoint_overhead_bytes;

  // CheckpointStore::save writes the new checkpoint (step_N.tmp, renamed) while the newest keep_checkpoints older
  // ones are still there, then deletes all but keep_checkpoints: keep + 1 at once, or every save of a short run.
  // The trainer saves every checkpoint_every steps before the last one, and once at the end.
  const int every = cfg.output.checkpoint_every;
  const long long saves = (every > 0 ? ((long long)cfg.train.steps - 1) / every : 0) + 1;
  p.keep_checkpoints = cfg.output.keep_checkpoints;
  p.checkpoints_on_disk = (int)std::min<long long>((long long)cfg.output.keep_checkpoints + 1, saves);
  p.disk_needed = p.peak[kDiskTier] + (size_t)p.checkpoints_on_disk * p.checkpoint_bytes;
}

}  // namespace strata
