// Writing Hugging Face model folders: config.json + model.safetensors, or size-limited shards with
// model.safetensors.index.json, atomically (temp folder, fsync, rename), from any stream of tensors.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "formats/hf_config.h"
#include "model/param_store.h"
#include "formats/safetensors.h"

namespace strata {

struct ExportOptions {
  DType dtype = DType::F32;
  size_t max_shard_bytes = 5000000000ull;  // HF's default "5GB"; a larger tensor gets a shard of its own
  bool overwrite = false;                  // replace an existing output folder (atomically)
  // Where notes about leftovers of interrupted earlier writes go (restored, removed or kept: one line each); default:
  // one "strata: warning: ..." line on stderr.
  std::function<void(const std::string&)> warn;
  // Where progress lines of the write go ("writing tensors: 120/291 | 4.8/12.9 GB | 0.52 GB/s | ETA 0:15"), at most
  // one every 2 s plus a final one when the write took that long (core/progress_line.h); default: none.
  std::function<void(const std::string&)> progress;
};

// Tensors of `params` under their HF names, converted to `dtype` as they are written (nullopt: each in the dtype
// it is stored in); only the blobs listed in `blobs` when it is non-empty.
std::vector<TensorSource> tensor_sources_from_params(const ParamStore& params, Backend& backend,
                                                     std::optional<DType> dtype,
                                                     const std::vector<BlobId>& blobs = {});
// Tensors of a freshly initialised model (param_init.h's values for `seed`, `std`), generated one blob at a time.
std::vector<TensorSource> tensor_sources_from_init(const ModelLayout& layout, uint64_t seed, float std, DType dtype);

// Bytes [offset, offset + bytes) of a tensor stored as `stored` at `tensor` (device or host memory of `backend`),
// converted to `to` (offset and bytes count `to` elements), in pieces of at most 1M elements.
void copy_converted(void* dst, const void* tensor, DType stored, DType to, size_t offset, size_t bytes,
                    Backend& backend);

// Writes the folder `dir` as DIR.tmp-PID next to it, fsync'ed, then renamed into place or, with overwrite and an
// existing `dir`, exchanged with it atomically (core/atomic_file.h: replace_folder): at every moment `dir` is the
// complete old folder or the complete new one. Fails before writing anything when `dir` exists (unless overwrite;
// even then it must be a model folder, with config.json, or empty; a symbolic link is replaced itself, never what
// it points to), when it is the current folder or one above it, or when the file system lacks the space; on any
// failure the temp folder is removed and an existing `dir` is left untouched.
// Leftovers of an interrupted earlier write of `dir` (DIR.tmp-PID, DIR.old-PID of a process that no longer runs)
// are handled before and after the write: a missing `dir` is restored from its DIR.old-PID; with `dir` a complete
// model folder, leftovers holding only the files written here are removed; anything else is reported via
// opts.warn with what to do.
void write_hf_model(const std::string& dir, const ModelInfo& info, const std::vector<TensorSource>& tensors,
                    const ExportOptions& opts);

}  // namespace strata
