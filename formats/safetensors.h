// safetensors files: a validating reader (pread, or an mmap made on first use) and a bounded-memory streaming writer.
// Format: u64 LE header length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"},
// then the data section; offsets are relative to the data section.
#pragma once
#include <cstddef>
#include <atomic>
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

// One open .safetensors file with its validated header. Move-only (RAII close/munmap). Reading tensor data with
// read() costs no resident memory beyond the caller's buffer; data() maps the whole file on first use, and every
// page touched through it counts in the process's resident set for as long as this object lives.
class SafetensorsFile {
 public:
  // Opens and validates `path` (the header is read with pread; nothing is mapped): header length within the file,
  // header is a JSON object, every entry has a known dtype, a shape of non-negative integers and data_offsets whose
  // size matches dtype x shape, inside the data section, not overlapping another tensor. Errors name the file, the
  // tensor and the byte offset.
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
  // Copies bytes [offset, offset + bytes) of tensor `t` (one of this file's tensors) into `dst` with pread. A range
  // outside the tensor is refused (an internal error naming the file and the tensor); a failed or short read (I/O
  // error, the file truncated since open) throws naming the file, the tensor and the file offset. Thread-safe.
  void read(const SafetensorsTensor& t, size_t offset, void* dst, size_t bytes) const;
  // Pointer to the tensor's bytes inside a read-only mapping of the whole file, made on the first call and kept
  // until destruction (not necessarily aligned). Prefer read() for large data: mapped pages stay resident.
  const void* data(const SafetensorsTensor& t) const;
  size_t data_offset() const { return 8 + header_len_; }  // file offset of the data section

 private:
  SafetensorsFile() = default;
  std::string path_;
  int fd_ = -1;
  mutable std::atomic<void*> map_{nullptr};  // the whole file, mapped by the first data() call
  size_t size_ = 0;
  size_t header_len_ = 0;
  std::map<std::string, SafetensorsTensor> tensors_;
  std::map<std::string, std::string> metadata_;
};

// One tensor to write. Exactly one of the two producers is set:
//  - fill_range(dst, offset, bytes) writes bytes [offset, offset + bytes) of the tensor to `dst`. The writer calls
//    it for consecutive pieces that cover the tensor in order, each at most the writer's chunk size, with `offset`
//    and `bytes` multiples of the dtype size and `dst` the (64-byte aligned) start of the writer's buffer; it is not
//    called for an empty tensor. The writer's memory stays at one chunk, whatever the tensor's size.
//  - fill(dst) writes the whole tensor (numel x dtype size bytes) at once, into a buffer as large as the tensor.
struct TensorSource {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::function<void(void* dst)> fill;
  std::function<void(void* dst, size_t offset, size_t bytes)> fill_range = nullptr;
  size_t bytes() const;
};

// The most bytes write_safetensors asks one fill_range call for (its buffer, allocated once per call).
inline constexpr size_t kSafetensorsWriteChunk = size_t{8} << 20;

// Writes a .safetensors file at `path` (the caller handles atomicity: write to a temp name, then rename).
// Tensors are written in the given order; the header is padded with spaces to a multiple of 8 bytes.
// fill_range sources go through one buffer of min(chunk_bytes rounded down to a multiple of 8, the largest such
// tensor) bytes; fill sources through one buffer as large as the largest of them.
// The file is fsync'ed before returning. Throws naming the path on any I/O error.
void write_safetensors(const std::string& path, const std::vector<TensorSource>& tensors,
                       const std::map<std::string, std::string>& metadata = {},
                       size_t chunk_bytes = kSafetensorsWriteChunk);

}  // namespace strata
