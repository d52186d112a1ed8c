// HF folder writer: shard planning, index file, atomic publish of the folder, and the tensor sources that stream a
// ParamStore or a seeded init into it without materialising a second copy of the model.
#include "formats/hf_export.h"

#include <signal.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/check.h"
#include "core/progress_line.h"
#include "core/dtype_convert.h"
#include "formats/hf_model_folder.h"
#include "model/param_init.h"

namespace strata {

namespace fs = std::filesystem;

// ---- tensor sources -------------------------------------------------------------------------------------------

namespace {

// The most elements tensor_sources_from_params converts at once (bounds its fp32 and device staging).
constexpr size_t kConvertElems = size_t{1} << 20;

}  // namespace

void copy_converted(void* dst, const void* tensor, DType stored, DType to, size_t offset, size_t bytes,
                    Backend& backend) {
  const bool host = backend.caps().device_is_host;
  const size_t from_size = dtype_size(stored), to_size = dtype_size(to);
  const unsigned char* s = static_cast<const unsigned char*>(tensor) + offset / to_size * from_size;
  auto* d = static_cast<unsigned char*>(dst);
  if (stored == to) {
    if (host) std::memcpy(d, s, bytes);
    else backend.copy(d, s, bytes);
    return;
  }
  const size_t n = bytes / to_size, piece = std::min(n, kConvertElems);
  std::vector<unsigned char> staged(host ? 0 : piece * from_size);
  std::vector<float> f(piece);
  for (size_t done = 0; done < n; done += piece) {
    const size_t m = std::min(piece, n - done);
    const void* h = s + done * from_size;
    if (!host) {
      backend.copy(staged.data(), h, m * from_size);
      h = staged.data();
    }
    convert_to_f32(f.data(), h, stored, m);
    convert_from_f32(d + done * to_size, f.data(), to, m);
  }
}

std::vector<TensorSource> tensor_sources_from_params(const ParamStore& params, Backend& backend,
                                                     std::optional<DType> dtype,
                                                     const std::vector<BlobId>& blobs) {
  std::vector<TensorSource> out;
  for (BlobId blob : params.ids().all()) {
    const BlobLayout& layout = params.layout_of(blob);
    if (layout.bytes == 0) continue;
    if (!blobs.empty() && std::find(blobs.begin(), blobs.end(), blob) == blobs.end()) continue;
    for (int i = 0; i < (int)layout.tensors.size(); ++i) {
      const TensorSpec& spec = layout.tensors[i];
      const auto* src = static_cast<const unsigned char*>(params.tensor(blob, i));
      const DType stored = spec.dtype;
      const DType to = dtype.value_or(stored);
      TensorSource t;
      t.name = hf_tensor_name(params, blob, i);
      t.dtype = to;
      t.shape = spec.shape;
      // Elements [offset / to_size, ...) of the tensor: copied (from the device when it is not host memory) and
      // converted in pieces of at most kConvertElems, so the staging stays small whatever the piece size.
      t.fill_range = [&backend, src, stored, to](void* dst, size_t offset, size_t bytes) {
        copy_converted(dst, src, stored, to, offset, bytes, backend);
      };
      out.push_back(std::move(t));
    }
  }
  return out;
}

std::vector<TensorSource> tensor_sources_from_init(const ModelLayout& layout, uint64_t seed, float std, DType dtype) {
  // The sources share one cache holding the most recently generated blob (fp32); tensors are written blob by blob.
  struct Cache {
    BlobId blob;
    std::vector<unsigned char> bytes;
  };
  auto cache = std::make_shared<Cache>();
  const BlobIds ids{layout.n_layers};
  std::vector<TensorSource> out;
  for (BlobId blob : ids.all()) {
    const BlobLayout* bl = &layout.of_blob(blob);
    if (bl->bytes == 0) continue;
    for (const TensorSpec& spec : bl->tensors) {
      TensorSource t;
      t.name = ids.is_block(blob) ? "model.layers." + to_string(blob) + "." + spec.name : spec.name;
      t.dtype = dtype;
      t.shape = spec.shape;
      t.fill_range = [cache, bl, blob, seed, std, dtype, &spec](void* dst, size_t offset, size_t bytes) {
        if (cache->blob != blob) {
          // The previous blob is freed before a larger one is allocated (growing in place would briefly hold both).
          if (cache->bytes.size() < bl->bytes) std::vector<unsigned char>().swap(cache->bytes);
          cache->bytes.resize(bl->bytes);
          generate_blob_init(*bl, blob, seed, std, cache->bytes.data());
          cache->blob = blob;
        }
        const size_t first = offset / dtype_size(dtype);
        convert_from_f32(dst, reinterpret_cast<const float*>(cache->bytes.data() + spec.offset) + first, dtype,
                         bytes / dtype_size(dtype));
      };
      out.push_back(std::move(t));
    }
  }
  return out;
}

// ---- folder writing -------------------------------------------------------------------------------------------

static void write_text_file(const fs::path& p, const std::string& text) {
  FILE* f = std::fopen(p.c_str(), "wb");
  STRATA_USER_CHECK(f, "cannot create " + p.string() + ": " + std::strerror(errno));
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size() && std::fflush(f) == 0 &&
                  ::fsync(fileno(f)) == 0;
  std::fclose(f);
  STRATA_USER_CHECK(ok, "writing " + p.string() + " failed (disk full?)");
}

// Removes the temp folder unless released (RAII cleanup on every error path).
struct TempDirGuard {
  fs::path path;
  bool armed = true;
  ~TempDirGuard() {
    if (!armed) return;
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

namespace {

// ---- leftovers of an interrupted earlier write ------------------------------------------------------------------
// A write of OUT works in OUT.tmp-PID and, on a file system without RENAME_EXCHANGE, moves the old OUT aside to
// OUT.old-PID (core/atomic_file.h: replace_folder). A process killed at the wrong moment leaves them behind; the
// next write of OUT recognises them by name (a process id that no longer runs) and cleans them up or reports them.

struct Leftover {
  fs::path path;
  bool old = false;  // OUT.old-PID: the previous OUT moved aside; OUT.tmp-PID: a new copy or, after the exchange,
                     // the old one
  long pid = 0;
};

bool process_running(long pid) { return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM; }

// The folders next to `out` named OUT.tmp-PID or OUT.old-PID whose process no longer runs (our own PID counts as
// gone when `own_pid_is_gone`: before this process created anything, such a name is an earlier process's).
std::vector<Leftover> find_leftovers(const fs::path& out, bool own_pid_is_gone) {
  std::vector<Leftover> found;
  const std::string base = out.filename().string();
  std::error_code ec;
  for (auto it = fs::directory_iterator(out.parent_path(), ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() <= base.size() + 5 || name.compare(0, base.size(), base) != 0) continue;
    const std::string kind = name.substr(base.size(), 5), digits = name.substr(base.size() + 5);
    if ((kind != ".tmp-" && kind != ".old-") || digits.size() > 9 ||
        !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
      continue;
    const long pid = std::stol(digits);
    std::error_code sec;
    if (pid <= 0 || !fs::is_directory(it->symlink_status(sec))) continue;
    if (pid == ::getpid() ? !own_pid_is_gone : process_running(pid)) continue;  // a live write: not ours to touch
    found.push_back({it->path(), kind == ".old-", pid});
  }
  std::sort(found.begin(), found.end(), [](const Leftover& a, const Leftover& b) { return a.path < b.path; });
  return found;
}

// True when `dir` holds only files write_hf_model writes (an interrupted write may have written only some).
bool holds_only_our_files(const fs::path& dir) {
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::error_code sec;
    if (!fs::is_regular_file(it->symlink_status(sec))) return false;
    const std::string n = it->path().filename().string();
    const auto digits = [&n](size_t at) {
      return std::all_of(n.begin() + at, n.begin() + at + 5, [](char c) { return c >= '0' && c <= '9'; });
    };
    const bool shard = n.size() == 32 && n.compare(0, 6, "model-") == 0 && digits(6) &&
                       n.compare(11, 4, "-of-") == 0 && digits(15) && n.compare(20, 12, ".safetensors") == 0;
    if (!shard && n != "config.json" && n != "model.safetensors" && n != "model.safetensors.index.json") return false;
  }
  return !ec;
}

bool is_complete_model_folder(const fs::path& dir) {
  try {
    HfModelFolder::open(dir.string());  // config.json and every safetensors file it needs, headers checked
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

std::string pids_of(const std::vector<Leftover>& l) {
  std::vector<long> pids;
  for (const Leftover& x : l)
    if (std::find(pids.begin(), pids.end(), x.pid) == pids.end()) pids.push_back(x.pid);
  std::string s(pids.size() > 1 ? "processes " : "process ");
  for (size_t i = 0; i < pids.size(); ++i) s.append(i ? ", " : "").append(std::to_string(pids[i]));
  return s;
}

std::string paths_of(const std::vector<Leftover>& l) {
  std::string s;
  for (const Leftover& x : l) s += (s.empty() ? "" : ", ") + x.path.string();
  return s;
}

// Cleans up or reports the leftovers of interrupted earlier writes of `out`, in at most one line per action:
//  - `out` missing and one OUT.old-PID: a kill between the two renames of the fallback; the old folder is put back;
//  - `out` missing and several OUT.old-PID (which no run of this version leaves): reported and kept;
//  - `out` a complete model folder: leftovers holding only files we write are removed (they are a temp copy or an
//    old copy that was being replaced); any other is reported, with what to do;
//  - `out` present but not a complete model folder: every leftover is reported (one of them may be the copy to keep);
//  - OUT.tmp-PID with `out` missing: nothing yet (the write that follows publishes `out`, and the check after it
//    decides).
// Leftovers listed in `seen` are skipped; the ones reported and kept are added to it (a second call after the
// write neither repeats nor deletes them).
void tidy_leftovers(const fs::path& out, bool own_pid_is_gone, const std::function<void(const std::string&)>& warn,
                    std::vector<fs::path>& seen) {
  std::vector<Leftover> left = find_leftovers(out, own_pid_is_gone);
  left.erase(std::remove_if(left.begin(), left.end(),
                            [&](const Leftover& l) { return std::find(seen.begin(), seen.end(), l.path) != seen.end(); }),
             left.end());
  if (left.empty()) return;
  std::error_code ec;
  const std::string tail = ": check what is inside, keep what you need (rename it to " + out.string() +
                           " if that is missing or broken) and delete the rest with rm -r";
  std::vector<Leftover> kept;
  if (!fs::exists(fs::symlink_status(out, ec))) {
    std::vector<Leftover> olds;
    for (const Leftover& l : left)
      if (l.old) olds.push_back(l);
    if (olds.size() == 1) {
      fs::rename(olds[0].path, out, ec);
      if (!ec)
        warn("restored " + out.string() + " from " + olds[0].path.string() + ", where an interrupted replace (" +
             pids_of(olds) + ", no longer running) had moved it aside");
      else
        kept = olds;
    } else {
      kept = olds;
    }
    left.erase(std::remove_if(left.begin(), left.end(), [](const Leftover& l) { return l.old; }), left.end());
    if (!kept.empty()) {
      warn("found " + paths_of(kept) + ", left by an interrupted earlier write of " + out.string() + " (" +
           pids_of(kept) + ", no longer running), and kept " + (kept.size() > 1 ? "them" : "it") + " because " +
           out.string() + " is missing" + tail);
      for (const Leftover& l : kept) seen.push_back(l.path);
    }
    if (!fs::exists(fs::symlink_status(out, ec))) return;  // the temp copies: after the write
    kept.clear();
  }
  if (left.empty()) return;
  const bool complete = is_complete_model_folder(out);
  std::vector<Leftover> removed;
  for (const Leftover& l : left) {
    if (complete && holds_only_our_files(l.path) && (fs::remove_all(l.path, ec), !ec)) removed.push_back(l);
    else kept.push_back(l);
  }
  if (!removed.empty())
    warn("removed " + paths_of(removed) + ", left by an interrupted earlier write of " + out.string() + " (" +
         pids_of(removed) + ", no longer running)");
  if (!kept.empty()) {
    warn("found " + paths_of(kept) + ", left by an interrupted earlier write of " + out.string() + " (" +
         pids_of(kept) + ", no longer running), and kept " + (kept.size() > 1 ? "them" : "it") + " because " +
         (complete ? std::string(kept.size() > 1 ? "they hold" : "it holds") + " files Strata does not write"
                   : out.string() + " is not a complete model folder") +
         tail);
    for (const Leftover& l : kept) seen.push_back(l.path);
  }
}

// Copies of `tensors` whose producers also count what they produced on `progress` (one item per tensor finished).
std::vector<TensorSource> counting(const std::vector<TensorSource>& tensors, ProgressLine& progress) {
  std::vector<TensorSource> out = tensors;
  for (TensorSource& t : out) {
    const size_t size = t.bytes();
    if (t.fill_range && size > 0) {
      t.fill_range = [inner = std::move(t.fill_range), size, &progress](void* dst, size_t offset, size_t bytes) {
        inner(dst, offset, bytes);
        progress.advance(offset + bytes == size ? 1 : 0, bytes);
      };
    } else if (t.fill_range) {  // empty: the writer never calls fill_range, but always calls fill
      t.fill_range = nullptr;
      t.fill = [&progress](void*) { progress.advance(1, 0); };
    } else if (t.fill) {
      t.fill = [inner = std::move(t.fill), size, &progress](void* dst) {
        inner(dst);
        progress.advance(1, size);
      };
    }
  }
  return out;
}

// The absolute, normalised output folder `dir` ("out/" is the folder "out"); refuses paths that cannot be a new
// model folder: empty, the root, the current folder or one above it.
fs::path output_folder(const std::string& dir) {
  STRATA_USER_CHECK(!dir.empty(), "the output folder path is empty; give the folder to write, e.g. --out runs/model-hf");
  fs::path out = fs::absolute(fs::path(dir)).lexically_normal();
  if (!out.has_filename() && out.has_parent_path() && out != out.root_path()) out = out.parent_path();
  STRATA_USER_CHECK(out.has_filename() && out != out.root_path(),
                    "cannot write the output folder '" + dir + "': it is the root folder; choose a new folder");
  std::error_code ec;
  const fs::path cwd = fs::weakly_canonical(fs::current_path(ec), ec);
  const fs::path rel = cwd.lexically_relative(fs::weakly_canonical(out, ec));
  STRATA_USER_CHECK(ec || rel.empty() || *rel.begin() == "..",
                    "cannot write the output folder '" + dir + "' (" + out.string() +
                        "): it is the current folder or one above it; choose a new folder");
  return out;
}

}  // namespace

void write_hf_model(const std::string& dir, const ModelInfo& info, const std::vector<TensorSource>& tensors,
                    const ExportOptions& opts) {
  STRATA_USER_CHECK(opts.max_shard_bytes > 0, "the maximum shard size (--max-shard-size) must be > 0");
  const auto warn = opts.warn ? opts.warn
                              : [](const std::string& m) { std::fprintf(stderr, "strata: warning: %s\n", m.c_str()); };
  const fs::path out = output_folder(dir);
  const fs::path parent = out.parent_path();
  std::error_code ec;
  STRATA_USER_CHECK(fs::is_directory(parent, ec), "cannot write " + out.string() + ": its parent folder " +
                                                      parent.string() + " does not exist");
  std::vector<fs::path> reported;  // leftovers reported and kept: not reported twice, never removed by this run
  tidy_leftovers(out, /*own_pid_is_gone=*/true, warn, reported);
  const fs::file_status st = fs::symlink_status(out, ec);
  const bool exists = fs::exists(st);
  STRATA_USER_CHECK(!exists || opts.overwrite, "output folder " + out.string() +
                                                   " already exists; choose another --out or pass --force to replace it");
  if (exists && !fs::is_symlink(st)) {  // a symbolic link is replaced itself, never what it points to
    STRATA_USER_CHECK(fs::is_directory(st), "cannot replace " + out.string() +
                                                ": it exists and is not a folder; choose another --out");
    const bool empty = fs::is_empty(out, ec);
    STRATA_USER_CHECK(empty || fs::exists(out / "config.json", ec),
                      "--force replaces only a model folder (one with config.json) or an empty folder, and " +
                          out.string() + " is neither; move or delete it yourself, or choose another --out");
  }

  // Shard plan: greedy in order.
  std::vector<std::vector<size_t>> shards(1);
  size_t shard_bytes = 0, total = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const size_t b = tensors[i].bytes();
    if (!shards.back().empty() && shard_bytes + b > opts.max_shard_bytes) {
      shards.emplace_back();
      shard_bytes = 0;
    }
    shards.back().push_back(i);
    shard_bytes += b;
    total += b;
  }
  struct statvfs vfs;
  if (::statvfs(parent.c_str(), &vfs) == 0) {
    const double avail = (double)vfs.f_bavail * vfs.f_frsize;
    STRATA_USER_CHECK(avail >= (double)total * 1.01 + (1 << 20),
                      "not enough disk space for " + out.string() + ": needs " + format_bytes(total) + ", " +
                          format_bytes((size_t)avail) + " available");
  }

  const std::string pid = std::to_string(::getpid());
  const fs::path old = parent / (out.filename().string() + ".old-" + pid);
  TempDirGuard tmp{parent / (out.filename().string() + ".tmp-" + pid)};
  if (fs::is_directory(fs::symlink_status(tmp.path, ec)) && holds_only_our_files(tmp.path))
    fs::remove_all(tmp.path, ec);  // an earlier process's temp copy under our process id (ids are reused)
  for (const fs::path& p : {tmp.path, old})
    STRATA_USER_CHECK(!fs::exists(fs::symlink_status(p, ec)),
                      "cannot write " + out.string() + ": " + p.string() +
                          " is in the way (left by an earlier run?); delete it or choose another --out");
  STRATA_USER_CHECK(fs::create_directory(tmp.path, ec), "cannot create " + tmp.path.string() + ": " + ec.message());

  write_text_file(tmp.path / "config.json", hf_config_json(info, opts.dtype));
  const std::map<std::string, std::string> meta{{"format", "pt"}};
  ProgressLine progress("writing tensors", tensors.size(), total, opts.progress);
  std::vector<TensorSource> counted;
  if (opts.progress) counted = counting(tensors, progress);
  const std::vector<TensorSource>& sources = opts.progress ? counted : tensors;
  if (shards.size() == 1) {
    write_safetensors((tmp.path / "model.safetensors").string(), sources, meta);
  } else {
    nlohmann::json index;
    index["metadata"]["total_size"] = total;
    char name[64];
    for (size_t s = 0; s < shards.size(); ++s) {
      std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", s + 1, shards.size());
      std::vector<TensorSource> part;
      for (size_t i : shards[s]) {
        part.push_back(sources[i]);
        index["weight_map"][sources[i].name] = name;
      }
      write_safetensors((tmp.path / name).string(), part, meta);
    }
    write_text_file(tmp.path / "model.safetensors.index.json", index.dump(2) + "\n");
  }
  progress.finish();

  // Publish: a plain rename into place, or an atomic exchange with the existing folder (replace_folder: at every
  // moment `out` is the complete old or the complete new folder), then the old copy removed.
  if (!exists) {
    publish_folder(tmp.path.string(), out.string());
    tmp.armed = false;
  } else {
    tmp.armed = false;  // from the exchange on, tmp holds the old folder, which replace_folder removes itself
    std::string note;
    try {
      note = replace_folder(tmp.path.string(), out.string(), old.string());
    } catch (...) {
      // Failed before anything moved (or moved back): tmp is the new, unpublished copy, removed. Failed with the
      // old folder stranded at `old` (the error says so): both are kept, and the next run restores `old`.
      tmp.armed = !fs::exists(fs::symlink_status(old, ec));
      throw;
    }
    if (!note.empty()) warn(note);
  }
  tidy_leftovers(out, /*own_pid_is_gone=*/false, warn, reported);
}

}  // namespace strata
