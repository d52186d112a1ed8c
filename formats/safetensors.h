// safetensors files: a validating reader over an mmapped file and a streaming writer.
// Format: u64 LE header length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"},
// then the data section; offsets are relative to the data section.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "model/param_layout.h"

namespace strata {

struct SafetensorsTensor {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  size_t begin = 0, end = 0;  // byte range within the data section
  int64_t numel() const;
};

// A read-only mapping of one .safetensors file with its validated header. Move-only (RAII munmap/close).
class SafetensorsFile {
 public:
  // Maps and validates `path`: header length within the file, header is a JSON object, every entry has a known
  // dtype, a shape of non-negative integers and data_offsets whose size matches dtype x shape, inside the data
  // section, not overlapping another tensor. Errors name the file, the tensor and the byte offset.
  static SafetensorsFile open(const std::string& path);

  SafetensorsFile(SafetensorsFile&& o) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&& o) noexcept;
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;
  ~SafetensorsFile();

  const std::string& path() const { return path_; }
  const std::map<std::string, SafetensorsTensor>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const SafetensorsTensor* find(const std::string& name) const;  // null when absent
  // Pointer to the tensor's bytes inside the mapping (not necessarily aligned).
  const void* data(const SafetensorsTensor& t) const;
  size_t data_offset() const { return 8 + header_len_; }  // file offset of the data section

 private:
  SafetensorsFile() = default;
  std::string path_;
  int fd_ = -1;
  void* map_ = nullptr;
  size_t size_ = 0;
  size_t header_len_ = 0;
  std::map<std::string, SafetensorsTensor> tensors_;
  std::map<std::string, std::string> metadata_;
};

// One tensor to write: its bytes are produced on demand by `fill(dst)` (numel x dtype size bytes), so a writer
// never holds more than one tensor in memory.
struct TensorSource {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::function<void(void* dst)> fill;
  size_t bytes() const;
};

// Writes a .safetensors file at `path` (the caller handles atomicity: write to a temp name, then rename).
// Tensors are written in the given order; the header is padded with spaces to a multiple of 8 bytes.
// The file is fsync'ed before returning. Throws naming the path on any I/O error.
void write_safetensors(const std::string& path, const std::vector<TensorSource>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace strata
