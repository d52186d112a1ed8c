// HF folder writer: shard planning, index file, atomic publish of the folder, and the tensor sources that stream a
// ParamStore or a seeded init into it without materialising a second copy of the model.
#include "formats/hf_export.h"

#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/check.h"
#include "core/dtype_convert.h"
#include "formats/hf_model_folder.h"
#include "model/param_init.h"

namespace strata {

namespace fs = std::filesystem;

// ---- tensor sources -------------------------------------------------------------------------------------------

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
      const void* src = params.tensor(blob, i);
      const size_t n = (size_t)spec.numel();
      const DType stored = spec.dtype;
      const DType to = dtype.value_or(stored);
      out.push_back({hf_tensor_name(params, blob, i), to, spec.shape, [&backend, src, n, stored, to](void* dst) {
                       std::vector<unsigned char> host;
                       const void* h = src;
                       if (!backend.caps().device_is_host) {
                         host.resize(n * dtype_size(stored));
                         backend.copy(host.data(), src, host.size());
                         h = host.data();
                       }
                       if (stored == to) return (void)std::memcpy(dst, h, n * dtype_size(stored));
                       std::vector<float> f(n);
                       convert_to_f32(f.data(), h, stored, n);
                       convert_from_f32(dst, f.data(), to, n);
                     }});
    }
  }
  return out;
}

std::vector<TensorSource> tensor_sources_from_init(const ModelLayout& layout, uint64_t seed, float std, DType dtype) {
  // The sources share one cache holding the most recently generated blob; tensors are written blob by blob.
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
      const std::string name =
          ids.is_block(blob) ? "model.layers." + to_string(blob) + "." + spec.name : spec.name;
      out.push_back({name, dtype, spec.shape, [cache, bl, blob, seed, std, dtype, &spec](void* dst) {
                       if (cache->blob != blob) {
                         cache->bytes.resize(bl->bytes);
                         generate_blob_init(*bl, blob, seed, std, cache->bytes.data());
                         cache->blob = blob;
                       }
                       convert_from_f32(dst, reinterpret_cast<const float*>(cache->bytes.data() + spec.offset), dtype,
                                        (size_t)spec.numel());
                     }});
    }
  }
  return out;
}

// ---- folder writing -------------------------------------------------------------------------------------------

static void write_text_file(const fs::path& p, const std::string& text) {
  FILE* f = std::fopen(p.c_str(), "wb");
  STRATA_CHECK(f, "cannot create " + p.string());
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size() && std::fflush(f) == 0 &&
                  ::fsync(fileno(f)) == 0;
  std::fclose(f);
  STRATA_CHECK(ok, "writing " + p.string() + " failed (disk full?)");
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

void write_hf_model(const std::string& dir, const ModelInfo& info, const std::vector<TensorSource>& tensors,
                    const ExportOptions& opts) {
  STRATA_CHECK(opts.max_shard_bytes > 0, "the maximum shard size must be > 0");
  const fs::path out = fs::absolute(fs::path(dir)).lexically_normal();
  const fs::path parent = out.parent_path();
  std::error_code ec;
  STRATA_CHECK(fs::is_directory(parent, ec), "cannot write " + out.string() + ": its parent folder " +
                                                 parent.string() + " does not exist");
  const bool exists = fs::exists(out, ec);
  STRATA_CHECK(!exists || opts.overwrite, "output folder " + out.string() +
                                              " already exists; choose another --out or pass --force to replace it");

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
    STRATA_CHECK(avail >= (double)total * 1.01 + (1 << 20),
                 "not enough disk space for " + out.string() + ": needs " + format_bytes(total) + ", " +
                     format_bytes((size_t)avail) + " available");
  }

  TempDirGuard tmp{parent / (out.filename().string() + ".tmp-" + std::to_string(::getpid()))};
  fs::remove_all(tmp.path, ec);
  STRATA_CHECK(fs::create_directory(tmp.path, ec), "cannot create " + tmp.path.string() + ": " + ec.message());

  write_text_file(tmp.path / "config.json", hf_config_json(info, opts.dtype));
  const std::map<std::string, std::string> meta{{"format", "pt"}};
  if (shards.size() == 1) {
    write_safetensors((tmp.path / "model.safetensors").string(), tensors, meta);
  } else {
    nlohmann::json index;
    index["metadata"]["total_size"] = total;
    char name[64];
    for (size_t s = 0; s < shards.size(); ++s) {
      std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", s + 1, shards.size());
      std::vector<TensorSource> part;
      for (size_t i : shards[s]) {
        part.push_back(tensors[i]);
        index["weight_map"][tensors[i].name] = name;
      }
      write_safetensors((tmp.path / name).string(), part, meta);
    }
    write_text_file(tmp.path / "model.safetensors.index.json", index.dump(2) + "\n");
  }

  // Publish: move any old folder aside, publish the new one (fsync, rename, parent fsync), then drop the old one.
  const fs::path old = parent / (out.filename().string() + ".old-" + std::to_string(::getpid()));
  if (exists) {
    fs::rename(out, old, ec);
    STRATA_CHECK(!ec, "cannot move the existing " + out.string() + " aside: " + ec.message());
  }
  try {
    publish_folder(tmp.path.string(), out.string());
  } catch (...) {
    if (exists) fs::rename(old, out);
    throw;
  }
  tmp.armed = false;
  if (exists) fs::remove_all(old, ec);
}

}  // namespace strata
