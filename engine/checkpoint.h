// Training checkpoints: one folder per save (checkpoints/step_00000100/) holding the weights that differ from the
// base model, the AdamW state and state.json (step, data-loader cursor, LISA set, counters, xxHash3 of each file).
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "data/data_loader.h"
#include "formats/safetensors.h"
#include "model/blob_id.h"

namespace strata {

struct TrainerState {
  int step = 0;                     // optimizer steps completed
  LoaderState loader;
  std::vector<BlobId> active_blobs;  // blobs with device optimizer state at save time
  std::vector<BlobId> dirty_blobs;   // blobs whose weights differ from the base model (stored in weights file)
  std::vector<int64_t> adam_steps;  // per blob
  int nonfinite_in_a_row = 0;
  int nonfinite_total = 0;
  uint64_t config_hash = 0;         // XXH3 of the run's resolved config (resume refuses a different config)
  int cpu_threads = 0;              // OpenMP threads of the process that saved it (0: unknown, an older checkpoint)
  int ranks = 1;                    // data-parallel ranks of the run (a step is micro_batch x grad_accum x ranks)
};

// Range checks of a state against the model it is loaded into (what a checksum cannot vouch for: a state written by
// a different model, or fields a hand edit made consistent): throws naming the field and `origin`.
void validate_state(const TrainerState& s, const BlobIds& ids, const std::string& origin);

struct LoadedCheckpoint {
  std::string dir;
  TrainerState state;
  std::unique_ptr<SafetensorsFile> weights;    // tensors under HF names (the dirty blobs)
  std::unique_ptr<SafetensorsFile> optimizer;  // "m.<blob>", "v.<blob>"
};

uint64_t xxh3_of_file(const std::string& path);
uint64_t xxh3_of_text(const std::string& text);

class CheckpointStore {
 public:
  CheckpointStore(std::string run_dir, int keep_last);

  // Writes checkpoints/step_<step>/ atomically (temp folder, fsync, rename), then removes all but the newest
  // keep_last checkpoints. Returns the folder.
  std::string save(const TrainerState& state, const std::vector<TensorSource>& weights,
                   const std::vector<TensorSource>& optimizer) const;
  // The newest complete checkpoint folder of a run, if any.
  static std::optional<std::string> latest(const std::string& run_dir);
  // Reads state.json and opens both files (headers validated, nothing mapped), verifying their xxHash3 (streamed);
  // errors name the file.
  static LoadedCheckpoint load(const std::string& checkpoint_dir);

 private:
  std::string run_dir_;
  int keep_last_;
};

}  // namespace strata
