// GoldenFile: reader of the golden tensor files written by tools/make_llama_goldens.py (PyTorch reference dumps).
//
// Format, version 1 (all integers little-endian):
//   magic      8 bytes   "STRGOLD\0"
//   version    u32       1
//   n_meta     u32       then n_meta x { key_len u32, key bytes, val_len u32, val bytes }   (UTF-8 strings;
//                        numbers in Python repr(), booleans "true"/"false")
//   n_tensors  u32       then n_tensors x { name_len u32, name bytes, dtype u32 (0 = f32, 1 = i32),
//                                           ndim u32, shape i64[ndim] (ndim 0: scalar), data (row-major) }
//   end of file (trailing bytes are an error)
// Every error throws StrataError naming the file, and for a malformed file the byte offset where reading failed.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace strata::test {

enum class GoldenDType : uint32_t { F32 = 0, I32 = 1 };
const char* to_string(GoldenDType t);

struct GoldenTensor {
  std::string name;
  GoldenDType dtype = GoldenDType::F32;
  std::vector<int64_t> shape;  // empty: scalar
  std::vector<float> f32;      // filled when dtype == F32
  std::vector<int32_t> i32;    // filled when dtype == I32
  int64_t numel() const;
  std::string shape_str() const;  // "[2, 16, 97]"
};

class GoldenFile {
 public:
  static constexpr char kMagic[8] = {'S', 'T', 'R', 'G', 'O', 'L', 'D', '\0'};
  static constexpr uint32_t kVersion = 1;

  // Reads and validates the whole file; throws StrataError on any problem.
  static GoldenFile load(const std::string& path);
  // Parses an in-memory image; `path` is used in error messages only.
  static GoldenFile parse(const std::vector<uint8_t>& bytes, const std::string& path);

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }

  // ---- metadata (throws naming the key and the file when absent or not convertible) ---------------------------
  bool has_meta(const std::string& key) const { return meta_.count(key) != 0; }
  const std::string& meta(const std::string& key) const;
  int64_t meta_int(const std::string& key) const;
  double meta_double(const std::string& key) const;
  bool meta_bool(const std::string& key) const;
  const std::map<std::string, std::string>& all_meta() const { return meta_; }

  // ---- tensors (throw naming the tensor and the file when absent, of another dtype or shape) -------------------
  bool has(const std::string& name) const { return index_.count(name) != 0; }
  const GoldenTensor& tensor(const std::string& name) const;
  const std::vector<float>& f32(const std::string& name) const;
  const std::vector<int32_t>& i32(const std::string& name) const;
  // As f32(), also checking the shape.
  const std::vector<float>& f32(const std::string& name, const std::vector<int64_t>& shape) const;
  const std::vector<GoldenTensor>& tensors() const { return tensors_; }  // file order

 private:
  std::string path_;
  uint32_t version_ = 0;
  std::map<std::string, std::string> meta_;
  std::vector<GoldenTensor> tensors_;
  std::map<std::string, size_t> index_;
};

// Path of a committed golden file: STRATA_GOLDEN_DIR "/" name.
std::string golden_path(const std::string& name);

}  // namespace strata::test
