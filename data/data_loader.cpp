// DataLoader (micro-batches over a window subset, reshuffled per epoch by a permutation seeded from (seed, epoch),
// resumable from (epoch, cursor)) and split_windows, the seeded train/eval split of a dataset's windows.
#include "data/data_loader.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "core/check.h"
#include "core/rng.h"

namespace strata {
namespace {

void shuffle(std::vector<size_t>& v, Rng& rng) {  // Fisher-Yates
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng.below(i)]);
}

}  // namespace

DataLoader::DataLoader(const PackedDataset& data, std::vector<size_t> indices, int micro_batch, uint64_t seed,
                       bool shuffle)
    : data_(data), indices_(std::move(indices)), micro_batch_(micro_batch), seed_(seed), shuffle_(shuffle) {
  STRATA_USER_CHECK(micro_batch >= 1, "train.micro_batch must be >= 1, got " + std::to_string(micro_batch));
  STRATA_USER_CHECK(!indices_.empty(),
                    "a data loader needs at least one window; use more data or a smaller data.seq_len");
  for (const size_t i : indices_)
    STRATA_CHECK(i < data.size(), "window index " + std::to_string(i) + " is out of range: the dataset has " +
                                      std::to_string(data.size()) + " windows");
}

size_t DataLoader::window_at(uint64_t epoch, uint64_t pos) {
  if (!shuffle_) return indices_[pos];
  if (perm_epoch_ != epoch) {
    perm_ = indices_;
    Rng rng(seed_ ^ (0xD1B54A32D192ED03ull * (epoch + 1)));
    strata::shuffle(perm_, rng);
    perm_epoch_ = epoch;
  }
  return perm_[pos];
}

void DataLoader::next_batch(int32_t* tokens, int32_t* targets) {
  const size_t T = static_cast<size_t>(data_.seq_len());
  for (int b = 0; b < micro_batch_; ++b) {
    if (state_.cursor >= indices_.size()) {
      ++state_.epoch;
      state_.cursor = 0;
    }
    const size_t w = window_at(state_.epoch, state_.cursor++);
    data_.get(w, tokens + b * T, targets + b * T);
  }
}

void DataLoader::restore(const LoaderState& s) {
  STRATA_USER_CHECK(s.cursor <= indices_.size(),
                    "data loader state: cursor " + std::to_string(s.cursor) + " is past the " +
                        std::to_string(indices_.size()) +
                        " windows of this dataset; the checkpoint was written with other data or another data.seq_len");
  state_ = s;
}

Split split_windows(size_t n, double eval_fraction, uint64_t seed) {
  STRATA_USER_CHECK(eval_fraction >= 0.0 && eval_fraction < 1.0,
                    "data.eval_fraction must be in [0, 1), got " + std::to_string(eval_fraction));
  std::vector<size_t> perm(n);
  for (size_t i = 0; i < n; ++i) perm[i] = i;
  Rng rng(seed ^ 0x5851F42D4C957F2Dull);  // salted: not the train loader's first-epoch order
  shuffle(perm, rng);
  size_t n_eval = static_cast<size_t>(std::llround(static_cast<double>(n) * eval_fraction));
  if (eval_fraction > 0.0 && n >= 2) n_eval = std::max<size_t>(n_eval, 1);
  if (n >= 1) n_eval = std::min(n_eval, n - 1);  // train keeps at least one window
  Split s;
  s.train.assign(perm.begin(), perm.end() - static_cast<std::ptrdiff_t>(n_eval));
  s.eval.assign(perm.end() - static_cast<std::ptrdiff_t>(n_eval), perm.end());
  std::sort(s.train.begin(), s.train.end());
  std::sort(s.eval.begin(), s.eval.end());
  return s;
}

}  // namespace strata
