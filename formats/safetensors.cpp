// Implements safetensors.h: the validating reader (SafetensorsFile: pread, mmap on demand) and the chunked writer.
// Every malformed-file error names the file, the tensor and the file offset involved, and says what to do.
#include "formats/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>
#include <utility>

#include "core/check.h"

namespace strata {

namespace {

using nlohmann::json;

// The reference implementation (huggingface/safetensors) rejects headers larger than this.
constexpr uint64_t kMaxHeaderLen = 100'000'000;
constexpr const char* kCorruptHint =
    " The file is corrupt, truncated or not a safetensors file: re-download or re-export it.";

[[noreturn]] void bad_file(const std::string& path, const std::string& what) {
  STRATA_USER_FAIL("safetensors file '" + path + "': " + what);
}

std::string errno_text(int err) { return std::string(std::strerror(err)) + " (errno " + std::to_string(err) + ")"; }

// A short, always-printable rendering of a JSON value for error messages.
std::string brief(const json& j) {
  std::string s = j.dump(-1, ' ', false, json::error_handler_t::replace);
  if (s.size() > 120) s = s.substr(0, 117) + "...";
  return s;
}

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

bool parse_dtype(const std::string& s, DType* out) {
  if (s == "F32") *out = DType::F32;
  else if (s == "F16") *out = DType::F16;
  else if (s == "BF16") *out = DType::BF16;
  else return false;
  return true;
}

// numel x dtype size, or false when it does not fit in size_t.
bool checked_bytes(const std::vector<int64_t>& shape, DType dtype, size_t* out) {
  size_t n = dtype_size(dtype);
  if (std::find(shape.begin(), shape.end(), int64_t{0}) != shape.end()) n = 0;
  for (int64_t d : shape)
    if (__builtin_mul_overflow(n, static_cast<size_t>(d), &n)) return false;
  *out = n;
  return true;
}

// A non-negative JSON integer (nlohmann stores those as number_unsigned) that fits in int64.
bool as_count(const json& j, uint64_t* out) {
  if (!j.is_number_unsigned()) return false;
  *out = j.get<uint64_t>();
  return *out <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
}

SafetensorsTensor parse_entry(const std::string& path, const std::string& name, const json& e) {
  const std::string where = "tensor '" + name + "': ";
  if (!e.is_object())
    bad_file(path, where + "header entry must be a JSON object with \"dtype\", \"shape\" and \"data_offsets\", found " +
                       e.type_name() + " " + brief(e) + "." + kCorruptHint);
  SafetensorsTensor t;
  t.name = name;

  auto dt = e.find("dtype");
  if (dt == e.end() || !dt->is_string())
    bad_file(path, where + "\"dtype\" must be a string such as \"BF16\", found " +
                       (dt == e.end() ? std::string("nothing") : brief(*dt)) + "." + kCorruptHint);
  const auto& dts = dt->get_ref<const std::string&>();
  if (!parse_dtype(dts, &t.dtype))
    bad_file(path, where + "unsupported dtype \"" + dts +
                       "\" (supported: F32, F16, BF16). Convert the checkpoint to one of these dtypes, e.g. in Python "
                       "with safetensors.torch: save_file({k: v.to(torch.bfloat16) ...}).");

  auto sh = e.find("shape");
  bool shape_ok = sh != e.end() && sh->is_array();
  if (shape_ok) {
    for (const auto& d : *sh) {
      uint64_t v;
      if (!as_count(d, &v)) {
        shape_ok = false;
        break;
      }
      t.shape.push_back(static_cast<int64_t>(v));
    }
  }
  if (!shape_ok)
    bad_file(path, where + "\"shape\" must be an array of non-negative integers, found " +
                       (sh == e.end() ? std::string("nothing") : brief(*sh)) + "." + kCorruptHint);

  auto off = e.find("data_offsets");
  uint64_t b = 0, en = 0;
  const bool off_ok = off != e.end() && off->is_array() && off->size() == 2 && as_count((*off)[0], &b) &&
                      as_count((*off)[1], &en) && b <= en;
  if (!off_ok)
    bad_file(path, where + "\"data_offsets\" must be two non-negative integers [begin, end] with begin <= end, found " +
                       (off == e.end() ? std::string("nothing") : brief(*off)) + "." + kCorruptHint);
  t.begin = static_cast<size_t>(b);
  t.end = static_cast<size_t>(en);
  return t;
}

std::map<std::string, std::string> parse_metadata(const std::string& path, const json& m) {
  std::map<std::string, std::string> out;
  if (m.is_null()) return out;  // the reference implementation accepts null for "no metadata"
  if (!m.is_object())
    bad_file(path, std::string("\"__metadata__\" must be a JSON object of string values, found ") + m.type_name() +
                       " " + brief(m) + "." + kCorruptHint);
  for (const auto& [k, v] : m.items()) {
    if (!v.is_string())
      bad_file(path, "\"__metadata__\" must be a JSON object of string values, but key '" + k + "' holds " +
                         v.type_name() + " " + brief(v) + "." + kCorruptHint);
    out.emplace(k, v.get<std::string>());
  }
  return out;
}

uint64_t read_u64_le(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// An owned file descriptor.
class UniqueFd {
 public:
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

// Removes a partially written regular file unless disarmed (never touches devices such as /dev/full).
class PartialFileGuard {
 public:
  explicit PartialFileGuard(std::string path) : path_(std::move(path)) {}
  PartialFileGuard(const PartialFileGuard&) = delete;
  PartialFileGuard& operator=(const PartialFileGuard&) = delete;
  ~PartialFileGuard() {
    if (armed_) ::unlink(path_.c_str());
  }
  void arm() { armed_ = true; }
  void disarm() { armed_ = false; }

 private:
  std::string path_;
  bool armed_ = false;
};

void write_all(int fd, const std::string& path, const void* data, size_t n, size_t file_offset,
               const std::string& what) {
  const auto* p = static_cast<const unsigned char*>(data);
  size_t done = 0;
  while (done < n) {
    const size_t chunk = std::min<size_t>(n - done, size_t{1} << 30);
    const ssize_t w = ::write(fd, p + done, chunk);
    if (w < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      STRATA_USER_FAIL("cannot write safetensors file '" + path + "': writing " + what + " failed at file offset " +
                       std::to_string(file_offset + done) + ": " + errno_text(err) +
                       ". Check free disk space and permissions of the output directory.");
    }
    if (w == 0)
      STRATA_USER_FAIL("cannot write safetensors file '" + path + "': write() made no progress on " + what +
                       " at file offset " + std::to_string(file_offset + done) + ". Check free disk space.");
    done += static_cast<size_t>(w);
  }
}

// Reads exactly `n` bytes at `file_offset` of `fd` into `dst` (pread, retried on EINTR and short reads); a read error
// or an end of file before `n` bytes throws naming the file, `what` is being read and the file offset reached.
void read_all(int fd, const std::string& path, void* dst, size_t n, size_t file_offset, const std::string& what) {
  auto* p = static_cast<unsigned char*>(dst);
  size_t done = 0;
  while (done < n) {
    const size_t chunk = std::min<size_t>(n - done, size_t{1} << 30);
    const ssize_t r = ::pread(fd, p + done, chunk, static_cast<off_t>(file_offset + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      STRATA_USER_FAIL("cannot read safetensors file '" + path + "': reading " + what + " failed at file offset " +
                       std::to_string(file_offset + done) + ": " + errno_text(err) +
                       ". The file or its storage device may be damaged: check the device (dmesg), then re-download "
                       "or re-export the file.");
    }
    if (r == 0)
      STRATA_USER_FAIL("cannot read safetensors file '" + path + "': the file ends at file offset " +
                       std::to_string(file_offset + done) + " while reading " + what + " (" +
                       std::to_string(n - done) +
                       " bytes short): it was truncated or replaced while in use. Do not modify model and checkpoint "
                       "files while Strata runs; re-download or re-export the file.");
    done += static_cast<size_t>(r);
  }
}

}  // namespace

// ---- SafetensorsTensor / TensorSource ---------------------------------------

int64_t SafetensorsTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

size_t TensorSource::bytes() const {
  for (size_t i = 0; i < shape.size(); ++i)
    STRATA_CHECK(shape[i] >= 0, "tensor '" + name + "' has negative dimension " + std::to_string(shape[i]) +
                                    " at axis " + std::to_string(i) + " of shape " + shape_str(shape) +
                                    ": every dimension must be >= 0");
  size_t n = 0;
  STRATA_CHECK(checked_bytes(shape, dtype, &n),
               "tensor '" + name + "' of shape " + shape_str(shape) + " has more bytes than fit in size_t");
  return n;
}

// ---- SafetensorsFile --------------------------------------------------------

SafetensorsFile::SafetensorsFile(SafetensorsFile&& o) noexcept
    : path_(std::move(o.path_)),
      fd_(std::exchange(o.fd_, -1)),
      map_(o.map_.exchange(nullptr)),
      size_(std::exchange(o.size_, 0)),
      header_len_(std::exchange(o.header_len_, 0)),
      tensors_(std::move(o.tensors_)),
      metadata_(std::move(o.metadata_)) {}

SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&& o) noexcept {
  if (this != &o) {
    SafetensorsFile tmp(std::move(*this));  // releases our current mapping when it goes out of scope
    path_ = std::move(o.path_);
    fd_ = std::exchange(o.fd_, -1);
    map_.store(o.map_.exchange(nullptr));
    size_ = std::exchange(o.size_, 0);
    header_len_ = std::exchange(o.header_len_, 0);
    tensors_ = std::move(o.tensors_);
    metadata_ = std::move(o.metadata_);
  }
  return *this;
}

SafetensorsFile::~SafetensorsFile() {
  if (void* m = map_.load()) ::munmap(m, size_);
  if (fd_ >= 0) ::close(fd_);
}

const SafetensorsTensor* SafetensorsFile::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

const void* SafetensorsFile::data(const SafetensorsTensor& t) const {
  STRATA_CHECK(fd_ >= 0,
               "safetensors file '" + path_ + "': data() of tensor '" + t.name + "' after the file was moved from");
  void* m = map_.load(std::memory_order_acquire);
  if (!m) {
    void* fresh = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd_, 0);
    if (fresh == MAP_FAILED) {
      const int err = errno;
      bad_file(path_, "mmap of " + std::to_string(size_) + " bytes for tensor '" + t.name + "' failed: " +
                          errno_text(err) + ". Check the available address space and memory limits (ulimit -v).");
    }
    // Two threads may map at once: the first mapping published wins, the other is unmapped.
    if (map_.compare_exchange_strong(m, fresh, std::memory_order_acq_rel)) m = fresh;
    else ::munmap(fresh, size_);
  }
  return static_cast<const unsigned char*>(m) + data_offset() + t.begin;
}

void SafetensorsFile::read(const SafetensorsTensor& t, size_t offset, void* dst, size_t bytes) const {
  const std::string where = "safetensors file '" + path_ + "', tensor '" + t.name + "': ";
  STRATA_CHECK(fd_ >= 0, where + "read after the file was moved from");
  const size_t data_size = size_ - data_offset();
  STRATA_CHECK(t.begin <= t.end && t.end <= data_size,
               where + "data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
                   "] lie outside this file's data section of " + std::to_string(data_size) +
                   " bytes; the tensor belongs to another file");
  const size_t size = t.end - t.begin;
  STRATA_CHECK(offset <= size && bytes <= size - offset,
               where + "cannot read bytes [" + std::to_string(offset) + ", " + std::to_string(offset) + " + " +
                   std::to_string(bytes) + ") of a " + std::to_string(size) + "-byte tensor (file offset " +
                   std::to_string(data_offset() + t.begin) + "): the range is outside the tensor");
  if (bytes == 0) return;
  STRATA_CHECK(dst != nullptr, where + "read into a null buffer");
  read_all(fd_, path_, dst, bytes, data_offset() + t.begin + offset,
           "tensor '" + t.name + "' (byte " + std::to_string(offset) + " of the tensor)");
}

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  SafetensorsFile f;  // owns the fd from here on, so every early error releases it
  f.path_ = path;
  f.fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);  // O_NONBLOCK: a FIFO must not hang us
  if (f.fd_ < 0) {
    const int err = errno;
    STRATA_USER_FAIL("cannot open safetensors file '" + path + "': " + errno_text(err) +
                     ". Check the path and its read permission.");
  }
  struct stat st {};
  if (::fstat(f.fd_, &st) != 0) {
    const int err = errno;
    bad_file(path, "fstat failed: " + errno_text(err));
  }
  if (!S_ISREG(st.st_mode))
    bad_file(path, "not a regular file (a directory or device?). Pass the path of a .safetensors file.");
  f.size_ = static_cast<size_t>(st.st_size);
  if (f.size_ < 8)
    bad_file(path, "the file is " + std::to_string(f.size_) +
                       " bytes, shorter than the 8-byte header length that starts every safetensors file." +
                       kCorruptHint);
  unsigned char prefix[8];
  read_all(f.fd_, path, prefix, 8, 0, "the header length");

  // 8 + header_len is never computed before header_len is known to be at most size - 8 (no overflow).
  const uint64_t hl = read_u64_le(prefix);
  if (hl > f.size_ - 8)
    bad_file(path, "the header length declared by the first 8 bytes is " + std::to_string(hl) +
                       " bytes, past the end of the file: 8 + " + std::to_string(hl) + " exceeds the file size of " +
                       std::to_string(f.size_) + " bytes." + kCorruptHint);
  if (hl > kMaxHeaderLen)
    bad_file(path, "the header length " + std::to_string(hl) + " exceeds the " + std::to_string(kMaxHeaderLen) +
                       "-byte limit of the safetensors format." + kCorruptHint);
  f.header_len_ = static_cast<size_t>(hl);
  const size_t data_start = f.data_offset(), data_size = f.size_ - data_start;

  std::string header_text(f.header_len_, '\0');
  read_all(f.fd_, path, header_text.data(), f.header_len_, 8, "the JSON header");
  const char* hp = header_text.data();
  // nlohmann's lexer would take a NUL byte for the end of input and ignore what follows; valid JSON has none.
  if (const void* nul = std::memchr(hp, 0, f.header_len_))
    bad_file(path, "the header is not valid JSON: NUL byte at header byte " +
                       std::to_string(static_cast<const char*>(nul) - hp) + " (file offset " +
                       std::to_string(8 + (static_cast<const char*>(nul) - hp)) + ")." + kCorruptHint);
  std::set<std::string> seen;
  std::string duplicate;
  auto on_event = [&](int depth, json::parse_event_t ev, json& parsed) {
    if (depth == 1 && ev == json::parse_event_t::key && parsed.is_string() && duplicate.empty() &&
        !seen.insert(parsed.get<std::string>()).second)
      duplicate = parsed.get<std::string>();
    return true;
  };
  json header;
  try {
    header = json::parse(hp, hp + f.header_len_, on_event);
  } catch (const json::parse_error& e) {
    const size_t at = e.byte > 0 ? e.byte - 1 : 0;
    bad_file(path, "the header is not valid JSON: error at header byte " + std::to_string(at) + " (file offset " +
                       std::to_string(8 + at) + "): " + e.what() + "." + kCorruptHint);
  } catch (const json::exception& e) {
    bad_file(path, std::string("the header could not be parsed: ") + e.what() + "." + kCorruptHint);
  }
  if (!header.is_object())
    bad_file(path, std::string("the header must be a JSON object {name: {dtype, shape, data_offsets}}, found ") +
                       header.type_name() + " " + brief(header) + "." + kCorruptHint);
  if (!duplicate.empty())
    bad_file(path, "the header names '" + duplicate + "' more than once." + kCorruptHint);

  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      f.metadata_ = parse_metadata(path, entry);
      continue;
    }
    SafetensorsTensor t = parse_entry(path, name, entry);
    if (t.end > data_size)
      bad_file(path, "tensor '" + name + "': data_offsets [" + std::to_string(t.begin) + ", " +
                         std::to_string(t.end) + "] end at file offset " + std::to_string(data_start + t.end) +
                         ", past the end of the file (" + std::to_string(f.size_) +
                         " bytes; the data section starts at file offset " + std::to_string(data_start) + ")." +
                         kCorruptHint);
    size_t need = 0;
    const bool fits = checked_bytes(t.shape, t.dtype, &need);
    if (!fits || need != t.end - t.begin)
      bad_file(path, "tensor '" + name + "': data_offsets [" + std::to_string(t.begin) + ", " +
                         std::to_string(t.end) + "] (file offset " + std::to_string(data_start + t.begin) + ") hold " +
                         std::to_string(t.end - t.begin) + " bytes but dtype " + to_string(t.dtype) + " x shape " +
                         shape_str(t.shape) + " needs " +
                         (fits ? std::to_string(need) : std::string("more than 2^64")) +
                         " bytes." + kCorruptHint);
    f.tensors_.emplace(name, std::move(t));
  }

  // Overlap: sort the non-empty ranges by start; each must begin at or after the furthest end seen so far.
  std::vector<const SafetensorsTensor*> order;
  for (const auto& [name, t] : f.tensors_)
    if (t.end > t.begin) order.push_back(&t);
  std::sort(order.begin(), order.end(),
            [](auto* a, auto* b) { return std::tie(a->begin, a->end) < std::tie(b->begin, b->end); });
  const SafetensorsTensor* furthest = nullptr;
  for (const auto* t : order) {
    if (furthest && t->begin < furthest->end)
      bad_file(path, "tensors '" + furthest->name + "' (file bytes [" + std::to_string(data_start + furthest->begin) +
                         ", " + std::to_string(data_start + furthest->end) + ")) and '" + t->name + "' (file bytes [" +
                         std::to_string(data_start + t->begin) + ", " + std::to_string(data_start + t->end) +
                         ")) overlap." + kCorruptHint);
    if (!furthest || t->end > furthest->end) furthest = t;
  }
  return f;
}

// ---- Writer -----------------------------------------------------------------

void write_safetensors(const std::string& path, const std::vector<TensorSource>& tensors,
                       const std::map<std::string, std::string>& metadata, size_t chunk_bytes) {
  const std::string where = "cannot write safetensors file '" + path + "': ";
  // Pieces start at multiples of the chunk, so a multiple of 8 keeps every piece whole elements of every dtype.
  STRATA_CHECK(chunk_bytes >= 8, where + "the write chunk of " + std::to_string(chunk_bytes) +
                                     " bytes is below the 8-byte minimum");
  chunk_bytes -= chunk_bytes % 8;
  // Validate everything before creating the file, so a bad call leaves nothing behind.
  std::map<std::string, size_t> index;
  std::vector<size_t> sizes;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorSource& t = tensors[i];
    STRATA_CHECK(!t.name.empty(), where + "tensor #" + std::to_string(i) + " has an empty name");
    STRATA_CHECK(t.name != "__metadata__", where + "'__metadata__' is reserved and cannot name a tensor (tensor #" +
                                               std::to_string(i) + ")");
    auto [it, fresh] = index.emplace(t.name, i);
    STRATA_CHECK(fresh, where + "tensor '" + t.name + "' appears twice (entries #" + std::to_string(it->second) +
                            " and #" + std::to_string(i) + "); tensor names must be unique");
    STRATA_CHECK(t.fill || t.fill_range, where + "tensor '" + t.name + "' has no fill function (set fill_range)");
    STRATA_CHECK(!(t.fill && t.fill_range), where + "tensor '" + t.name +
                                                "' has both fill and fill_range; set exactly one of them");
    for (size_t a = 0; a < t.shape.size(); ++a)
      STRATA_CHECK(t.shape[a] >= 0, where + "tensor '" + t.name + "' has negative dimension " +
                                        std::to_string(t.shape[a]) + " at axis " + std::to_string(a) + " of shape " +
                                        shape_str(t.shape) + "; every dimension must be >= 0");
    size_t n = 0;
    STRATA_CHECK(checked_bytes(t.shape, t.dtype, &n),
                 where + "tensor '" + t.name + "' of shape " + shape_str(t.shape) +
                     " has more bytes than fit in size_t");
    sizes.push_back(n);
  }

  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    auto& m = header["__metadata__"] = nlohmann::ordered_json::object();
    for (const auto& [k, v] : metadata) m[k] = v;
  }
  size_t offset = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorSource& t = tensors[i];
    STRATA_CHECK(!__builtin_add_overflow(offset, sizes[i], &offset), where + "total tensor bytes overflow size_t");
    header[t.name] = {{"dtype", to_string(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset - sizes[i], offset}}};
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    STRATA_FAIL(where + "tensor names and metadata must be valid UTF-8: " + e.what());
  }
  text.append((8 - text.size() % 8) % 8, ' ');  // the data section starts 8-byte aligned, as in the reference writer

  unsigned char prefix[8];
  for (int i = 0; i < 8; ++i) prefix[i] = static_cast<unsigned char>(static_cast<uint64_t>(text.size()) >> (8 * i));

  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (fd.get() < 0) {
    const int err = errno;
    STRATA_USER_FAIL(where + "open failed: " + errno_text(err) + ". Check that the directory exists and is writable.");
  }
  PartialFileGuard guard(path);
  struct stat st {};
  if (::fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode)) guard.arm();

  write_all(fd.get(), path, prefix, 8, 0, "the header length");
  write_all(fd.get(), path, text.data(), text.size(), 8, "the JSON header");
  // fill_range sources: one chunk buffer, allocated once (uninitialised: only the pieces written touch its pages).
  size_t chunk = 0;
  for (size_t i = 0; i < tensors.size(); ++i)
    if (tensors[i].fill_range) chunk = std::max(chunk, std::min(sizes[i], chunk_bytes));
  struct AlignedFree {
    void operator()(unsigned char* p) const { ::operator delete[](p, std::align_val_t{64}); }
  };
  const std::unique_ptr<unsigned char[], AlignedFree> piece_buf(
      static_cast<unsigned char*>(::operator new[](std::max<size_t>(chunk, 1), std::align_val_t{64})));
  std::vector<unsigned char> whole;  // fill sources: one tensor at a time; grows to the largest and is reused
  size_t file_off = 8 + text.size();
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorSource& t = tensors[i];
    if (t.fill_range) {
      for (size_t off = 0; off < sizes[i]; off += chunk) {
        const size_t n = std::min(chunk, sizes[i] - off);
        t.fill_range(piece_buf.get(), off, n);
        write_all(fd.get(), path, piece_buf.get(), n, file_off + off,
                  "tensor '" + t.name + "' (byte " + std::to_string(off) + " of the tensor)");
      }
    } else {
      whole.resize(std::max<size_t>(sizes[i], 1));  // fill always gets a valid pointer, even for empty tensors
      t.fill(whole.data());
      write_all(fd.get(), path, whole.data(), sizes[i], file_off, "tensor '" + t.name + "'");
    }
    file_off += sizes[i];
  }
  if (::fsync(fd.get()) != 0 && errno != EINVAL) {  // EINVAL: the target (a device, a pipe) cannot sync
    const int err = errno;
    STRATA_USER_FAIL(where + "fsync failed: " + errno_text(err) + ". Check free disk space and the storage device.");
  }
  if (::close(fd.release()) != 0) {
    const int err = errno;
    if (err != EINTR)
      STRATA_USER_FAIL(where + "close failed: " + errno_text(err) + ". Check free disk space and the storage device.");
  }
  guard.disarm();
}

}  // namespace strata
