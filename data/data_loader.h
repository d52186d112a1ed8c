// DataLoader: micro-batches from a subset of a PackedDataset's windows, reshuffled every epoch by a seeded
// permutation; its whole state is (epoch, cursor), saved in checkpoints so a resumed run sees the same batches.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "data/packed_dataset.h"

namespace strata {

struct LoaderState {
  uint64_t epoch = 0;
  uint64_t cursor = 0;  // windows consumed in this epoch
};

class DataLoader {
 public:
  // `indices`: the windows this loader draws from (e.g. the train split). shuffle=false keeps their order (eval).
  DataLoader(const PackedDataset& data, std::vector<size_t> indices, int micro_batch, uint64_t seed, bool shuffle);

  int micro_batch() const { return micro_batch_; }
  size_t num_windows() const { return indices_.size(); }
  // Fills tokens/targets [micro_batch * seq_len]; wraps into the next epoch (reshuffled) when the current one ends.
  void next_batch(int32_t* tokens, int32_t* targets);
  LoaderState state() const { return state_; }
  void restore(const LoaderState& s);  // throws when the cursor is out of range for this dataset
  void reset() { restore(LoaderState{}); }

 private:
  size_t window_at(uint64_t epoch, uint64_t pos);

  const PackedDataset& data_;
  std::vector<size_t> indices_;
  int micro_batch_;
  uint64_t seed_;
  bool shuffle_;
  LoaderState state_;
  uint64_t perm_epoch_ = ~0ull;
  std::vector<size_t> perm_;
};

// A train/eval split of a dataset's windows: a seeded permutation, the last `eval_fraction` of it for eval.
struct Split {
  std::vector<size_t> train, eval;
};
Split split_windows(size_t n, double eval_fraction, uint64_t seed);

}  // namespace strata
