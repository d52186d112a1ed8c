// Implementation of the golden file reader (format documented in golden_file.h and tools/make_llama_goldens.py).
#include "tests/support/golden_file.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>

#include "core/check.h"

namespace strata::test {

const char* to_string(GoldenDType t) {
  switch (t) {
    case GoldenDType::F32: return "f32";
    case GoldenDType::I32: return "i32";
  }
  return "?";
}

int64_t GoldenTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string GoldenTensor::shape_str() const {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

namespace {

// Bounds-checked little-endian cursor over the file image; errors name the file, the field and the byte offset.
class Cursor {
 public:
  Cursor(const std::vector<uint8_t>& b, const std::string& path) : b_(b), path_(path) {}
  size_t offset() const { return off_; }
  size_t remaining() const { return b_.size() - off_; }

  [[noreturn]] void fail(const std::string& what) const {
    STRATA_FAIL("golden file " + path_ + ": " + what + " (at byte offset " + std::to_string(off_) + " of " +
                std::to_string(b_.size()) + ")");
  }
  void need(size_t n, const std::string& what) const {
    if (n > remaining())
      fail("truncated: reading " + what + " needs " + std::to_string(n) + " bytes, only " +
           std::to_string(remaining()) + " left; regenerate with tools/make_llama_goldens.py");
  }
  void bytes(void* dst, size_t n, const std::string& what) {
    need(n, what);
    if (n) std::memcpy(dst, b_.data() + off_, n);
    off_ += n;
  }
  uint32_t u32(const std::string& what) {
    uint8_t p[4];
    bytes(p, 4, what);
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
  }
  int64_t i64(const std::string& what) {
    uint8_t p[8];
    bytes(p, 8, what);
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = v << 8 | p[i];
    return (int64_t)v;
  }
  std::string str(const std::string& what) {
    const uint32_t n = u32(what + " length");
    std::string s(n, '\0');
    bytes(s.data(), n, what);
    return s;
  }
  template <typename T>
  void array(std::vector<T>& out, int64_t n, const std::string& what) {
    static_assert(sizeof(T) == 4);
    if (n < 0 || (uint64_t)n > remaining() / 4)
      fail("truncated: reading " + what + " needs " + std::to_string(n) + " x 4 bytes, only " +
           std::to_string(remaining()) + " left; regenerate with tools/make_llama_goldens.py");
    out.resize((size_t)n);
    for (int64_t i = 0; i < n; ++i) {
      const uint8_t* p = b_.data() + off_ + (size_t)i * 4;
      const uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
      std::memcpy(&out[(size_t)i], &v, 4);
    }
    off_ += (size_t)n * 4;
  }

 private:
  const std::vector<uint8_t>& b_;
  const std::string& path_;
  size_t off_ = 0;
};

}  // namespace

GoldenFile GoldenFile::load(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  STRATA_CHECK(f.good(), "cannot open golden file " + path + ": " + std::strerror(errno) +
                             " (generate it with /work/venv-torch/bin/python tools/make_llama_goldens.py)");
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  STRATA_CHECK(!f.bad(), "error reading golden file " + path);
  return parse(bytes, path);
}

GoldenFile GoldenFile::parse(const std::vector<uint8_t>& bytes, const std::string& path) {
  GoldenFile g;
  g.path_ = path;
  Cursor c(bytes, g.path_);
  char magic[8];
  c.bytes(magic, 8, "magic");
  if (std::memcmp(magic, kMagic, 8) != 0) {
    std::string got;
    for (char ch : magic) got += (ch >= 32 && ch < 127) ? ch : '?';
    STRATA_FAIL("golden file " + path + ": bad magic '" + got + "', expected 'STRGOLD\\0': not a Strata golden file");
  }
  g.version_ = c.u32("version");
  STRATA_CHECK(g.version_ == kVersion, "golden file " + path + ": format version " + std::to_string(g.version_) +
                                           ", this reader supports version " + std::to_string(kVersion) +
                                           "; regenerate with tools/make_llama_goldens.py or update the reader");
  const uint32_t n_meta = c.u32("metadata count");
  for (uint32_t i = 0; i < n_meta; ++i) {
    std::string key = c.str("metadata key " + std::to_string(i));
    std::string val = c.str("metadata value of '" + key + "'");
    if (g.meta_.count(key)) c.fail("duplicate metadata key '" + key + "'");
    g.meta_[key] = std::move(val);
  }
  const uint32_t n_tensors = c.u32("tensor count");
  for (uint32_t i = 0; i < n_tensors; ++i) {
    GoldenTensor t;
    t.name = c.str("name of tensor " + std::to_string(i));
    const std::string tag = "tensor '" + t.name + "'";
    if (g.index_.count(t.name)) c.fail("duplicate " + tag);
    const uint32_t dt = c.u32(tag + " dtype");
    if (dt != (uint32_t)GoldenDType::F32 && dt != (uint32_t)GoldenDType::I32)
      c.fail(tag + ": unknown dtype code " + std::to_string(dt) + " (0 = f32, 1 = i32)");
    t.dtype = (GoldenDType)dt;
    const uint32_t ndim = c.u32(tag + " ndim");
    if (ndim > 8) c.fail(tag + ": implausible ndim " + std::to_string(ndim));
    for (uint32_t d = 0; d < ndim; ++d) {
      const int64_t s = c.i64(tag + " shape");
      if (s < 0) c.fail(tag + ": negative dimension " + std::to_string(s));
      if (s > 0 && t.numel() > (int64_t(1) << 40) / s) c.fail(tag + ": implausibly large shape");
      t.shape.push_back(s);
    }
    if (t.dtype == GoldenDType::F32)
      c.array(t.f32, t.numel(), tag + " data " + t.shape_str());
    else
      c.array(t.i32, t.numel(), tag + " data " + t.shape_str());
    g.index_[t.name] = g.tensors_.size();
    g.tensors_.push_back(std::move(t));
  }
  if (c.remaining() != 0) c.fail(std::to_string(c.remaining()) + " trailing bytes after the last tensor");
  return g;
}

const std::string& GoldenFile::meta(const std::string& key) const {
  auto it = meta_.find(key);
  STRATA_CHECK(it != meta_.end(), "golden file " + path_ + ": no metadata key '" + key + "'");
  return it->second;
}

int64_t GoldenFile::meta_int(const std::string& key) const {
  const std::string& v = meta(key);
  char* end = nullptr;
  errno = 0;
  const long long x = std::strtoll(v.c_str(), &end, 10);
  STRATA_CHECK(!v.empty() && *end == '\0' && errno == 0,
               "golden file " + path_ + ": metadata '" + key + "' = '" + v + "' is not an integer");
  return x;
}

double GoldenFile::meta_double(const std::string& key) const {
  const std::string& v = meta(key);
  char* end = nullptr;
  errno = 0;
  const double x = std::strtod(v.c_str(), &end);
  STRATA_CHECK(!v.empty() && *end == '\0' && errno == 0,
               "golden file " + path_ + ": metadata '" + key + "' = '" + v + "' is not a number");
  return x;
}

bool GoldenFile::meta_bool(const std::string& key) const {
  const std::string& v = meta(key);
  if (v == "true") return true;
  if (v == "false") return false;
  STRATA_FAIL("golden file " + path_ + ": metadata '" + key + "' = '" + v + "' is not 'true' or 'false'");
}

const GoldenTensor& GoldenFile::tensor(const std::string& name) const {
  auto it = index_.find(name);
  STRATA_CHECK(it != index_.end(), "golden file " + path_ + ": no tensor named '" + name + "' (the file has " +
                                       std::to_string(tensors_.size()) + " tensors)");
  return tensors_[it->second];
}

const std::vector<float>& GoldenFile::f32(const std::string& name) const {
  const GoldenTensor& t = tensor(name);
  STRATA_CHECK(t.dtype == GoldenDType::F32, "golden file " + path_ + ": tensor '" + name + "' is " +
                                                to_string(t.dtype) + ", expected f32");
  return t.f32;
}

const std::vector<int32_t>& GoldenFile::i32(const std::string& name) const {
  const GoldenTensor& t = tensor(name);
  STRATA_CHECK(t.dtype == GoldenDType::I32, "golden file " + path_ + ": tensor '" + name + "' is " +
                                                to_string(t.dtype) + ", expected i32");
  return t.i32;
}

const std::vector<float>& GoldenFile::f32(const std::string& name, const std::vector<int64_t>& shape) const {
  const std::vector<float>& v = f32(name);
  const GoldenTensor& t = tensor(name);
  GoldenTensor want;
  want.shape = shape;
  STRATA_CHECK(t.shape == shape, "golden file " + path_ + ": tensor '" + name + "' has shape " + t.shape_str() +
                                     ", expected " + want.shape_str());
  return v;
}

std::string golden_path(const std::string& name) { return std::string(STRATA_GOLDEN_DIR) + "/" + name; }

}  // namespace strata::test
