// Tests of safetensors.h: writer -> reader round trips (F32/BF16/F16, metadata, 8-byte aligned data section),
// every malformed-header error (asserting it names the file and the culprit), writer errors, and a fuzz test; the
// chunked writer (fill_range, bounded memory for a 600 MB tensor), ranged reads (read(), tensor_pieces.h).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "core/check.h"
#include "core/dtype_convert.h"
#include "formats/safetensors.h"
#include "formats/tensor_pieces.h"

namespace strata {
namespace {

using Bytes = std::vector<unsigned char>;

class Safetensors : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/strata_safetensors_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  // A file of the 8-byte little-endian length `declared` (default: the header size), the header text, then data.
  std::string raw(const std::string& name, const std::string& header, size_t data_bytes = 0,
                  uint64_t declared = UINT64_MAX - 1) {
    Bytes b(8);
    const uint64_t n = declared == UINT64_MAX - 1 ? header.size() : declared;
    for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>(n >> (8 * i));
    b.insert(b.end(), header.begin(), header.end());
    for (size_t i = 0; i < data_bytes; ++i) b.push_back(static_cast<unsigned char>(i));
    return write_bytes(name, b);
  }
  std::string write_bytes(const std::string& name, const Bytes& b) {
    const std::string p = path(name);
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    EXPECT_TRUE(out.good()) << p;
    return p;
  }

  std::string dir_;
};

Bytes read_all(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The StrataError message of opening `p`, or "" when it opens.
std::string open_error(const std::string& p) {
  try {
    SafetensorsFile::open(p);
  } catch (const StrataError& e) {
    return e.what();
  }
  return "";
}

void expect_mentions(const std::string& msg, std::initializer_list<const char*> parts) {
  ASSERT_FALSE(msg.empty()) << "expected an error";
  for (const char* part : parts) EXPECT_NE(msg.find(part), std::string::npos) << "missing '" << part << "' in: " << msg;
}

std::string write_error(const std::string& p, const std::vector<TensorSource>& ts,
                        const std::map<std::string, std::string>& meta = {}) {
  try {
    write_safetensors(p, ts, meta);
  } catch (const StrataError& e) {
    return e.what();
  }
  return "";
}

TensorSource from_bytes(const std::string& name, DType dt, std::vector<int64_t> shape, const Bytes& bytes) {
  return TensorSource{name, dt, std::move(shape), [bytes](void* dst) {
                        if (!bytes.empty()) std::memcpy(dst, bytes.data(), bytes.size());
                      }};
}

Bytes pattern(size_t n, unsigned seed) {
  Bytes b(n);
  std::mt19937 rng(seed);
  for (auto& x : b) x = static_cast<unsigned char>(rng());
  return b;
}

// ---- Round trips ------------------------------------------------------------

TEST_F(Safetensors, RoundTripDTypesMetadataAlignment) {
  std::vector<float> w = {1.0f, -2.5f, 3.25f, 0.0f, 1e-3f, -7.0f};
  Bytes f32(w.size() * 4), bf16(w.size() * 2), f16(w.size() * 2);
  std::memcpy(f32.data(), w.data(), f32.size());
  convert_from_f32(bf16.data(), w.data(), DType::BF16, w.size());
  convert_from_f32(f16.data(), w.data(), DType::F16, w.size());
  const Bytes odd = pattern(2 * 5 * 7, 3);  // 35 BF16 elements: the next tensor starts unaligned
  std::vector<TensorSource> ts = {
      from_bytes("z.f32", DType::F32, {2, 3}, f32),
      from_bytes("a.bf16", DType::BF16, {6}, bf16),
      from_bytes("m.f16", DType::F16, {3, 1, 2}, f16),
      from_bytes("odd", DType::BF16, {5, 7}, odd),
      from_bytes("empty", DType::F32, {0, 4}, {}),
      from_bytes("scalar", DType::F32, {}, Bytes{0, 0, 0x80, 0x3F}),
  };
  const std::string p = path("model.safetensors");
  write_safetensors(p, ts, {{"format", "pt"}, {"note", "héllo \"quoted\""}});

  const Bytes file = read_all(p);
  uint64_t hl = 0;
  for (int i = 7; i >= 0; --i) hl = (hl << 8) | file[i];
  EXPECT_EQ((8 + hl) % 8, 0u) << "data section must start 8-byte aligned";
  EXPECT_EQ(file[8], '{');
  EXPECT_EQ(file.size(), 8 + hl + f32.size() + bf16.size() + f16.size() + odd.size() + 4);

  const auto f = SafetensorsFile::open(p);
  EXPECT_EQ(f.path(), p);
  EXPECT_EQ(f.data_offset(), 8 + hl);
  EXPECT_EQ(f.tensors().size(), ts.size());
  EXPECT_EQ(f.metadata(), (std::map<std::string, std::string>{{"format", "pt"}, {"note", "héllo \"quoted\""}}));
  size_t expect_begin = 0;
  for (const auto& src : ts) {
    const SafetensorsTensor* t = f.find(src.name);
    ASSERT_NE(t, nullptr) << src.name;
    EXPECT_EQ(t->dtype, src.dtype) << src.name;
    EXPECT_EQ(t->shape, src.shape) << src.name;
    EXPECT_EQ(t->begin, expect_begin) << src.name << ": tensors are laid out in the given order";
    EXPECT_EQ(t->end - t->begin, src.bytes()) << src.name;
    EXPECT_EQ(static_cast<size_t>(t->numel()) * dtype_size(t->dtype), src.bytes());
    Bytes want(src.bytes());
    src.fill(want.data());
    if (!want.empty()) {
      EXPECT_EQ(std::memcmp(f.data(*t), want.data(), want.size()), 0) << src.name;
    }
    expect_begin = t->end;
  }
  EXPECT_EQ(f.find("missing"), nullptr);

  std::vector<float> back(w.size());
  convert_to_f32(back.data(), f.data(*f.find("m.f16")), DType::F16, w.size());
  for (size_t i = 0; i < w.size(); ++i) EXPECT_NEAR(back[i], w[i], 1e-3f * std::abs(w[i]) + 1e-6f);
  convert_to_f32(back.data(), f.data(*f.find("z.f32")), DType::F32, w.size());
  EXPECT_EQ(back, w);
}

TEST_F(Safetensors, NoTensorsNoMetadata) {
  const std::string p = path("empty.safetensors");
  write_safetensors(p, {});
  const Bytes file = read_all(p);
  ASSERT_EQ(file.size(), 16u);  // "{}" padded to 8 bytes
  EXPECT_EQ(std::string(file.begin() + 8, file.end()), "{}      ");
  auto f = SafetensorsFile::open(p);
  EXPECT_TRUE(f.tensors().empty());
  EXPECT_TRUE(f.metadata().empty());

  EXPECT_EQ(open_error(raw("bare.safetensors", "{}")), "");
  EXPECT_EQ(open_error(raw("nullmeta.safetensors", R"({"__metadata__": null})")), "");
}

TEST_F(Safetensors, FillCalledOncePerTensorInOrderWithReusedBuffer) {
  std::vector<std::string> calls;
  std::vector<TensorSource> ts;
  for (const char* name : {"c", "a", "b"})
    ts.push_back({name, DType::F16, {3}, [&calls, name](void* dst) {
                    calls.push_back(name);
                    std::memset(dst, name[0], 6);
                  }});
  const std::string p = path("order.safetensors");
  write_safetensors(p, ts);
  EXPECT_EQ(calls, (std::vector<std::string>{"c", "a", "b"}));
  const auto f = SafetensorsFile::open(p);
  EXPECT_EQ(f.find("c")->begin, 0u);
  EXPECT_EQ(f.find("a")->begin, 6u);
  EXPECT_EQ(static_cast<const unsigned char*>(f.data(*f.find("b")))[5], 'b');
}

TEST_F(Safetensors, MoveKeepsTheMapping) {
  const std::string p = path("move.safetensors");
  write_safetensors(p, {from_bytes("t", DType::F32, {2}, Bytes{1, 2, 3, 4, 5, 6, 7, 8})});
  auto a = SafetensorsFile::open(p);
  SafetensorsFile b(std::move(a));
  EXPECT_EQ(static_cast<const unsigned char*>(b.data(*b.find("t")))[7], 8);
  auto c = SafetensorsFile::open(p);
  c = std::move(b);
  EXPECT_EQ(static_cast<const unsigned char*>(c.data(*c.find("t")))[0], 1);
  EXPECT_EQ(c.path(), p);
}

// ---- Chunked writing (fill_range) and ranged reading ------------------------------------------------------------

// A fill_range source of `bytes` that produces pattern(...) bytes at absolute positions, recording every call.
struct Piece {
  std::string name;
  const void* dst;
  size_t offset, bytes;
};
TensorSource ranged(const std::string& name, DType dt, std::vector<int64_t> shape, const Bytes& bytes,
                    std::vector<Piece>* log) {
  TensorSource t{name, dt, std::move(shape), {}};
  t.fill_range = [bytes, name, log](void* dst, size_t offset, size_t n) {
    log->push_back({name, dst, offset, n});
    std::memcpy(dst, bytes.data() + offset, n);
  };
  return t;
}

TEST_F(Safetensors, FillRangeWritesTheSameBytesInBoundedOrderedPieces) {
  const Bytes a = pattern(4 * 100, 1), b = pattern(2 * 37, 2), c = pattern(2 * 3, 3);
  std::vector<TensorSource> whole = {from_bytes("a", DType::F32, {10, 10}, a), from_bytes("b", DType::BF16, {37}, b),
                                     from_bytes("empty", DType::F16, {0}, {}), from_bytes("c", DType::F16, {3}, c)};
  write_safetensors(path("whole.safetensors"), whole, {{"format", "pt"}});
  for (const size_t chunk : {size_t{8}, size_t{30}, size_t{64}, size_t{1} << 20}) {
    std::vector<Piece> log;
    std::vector<TensorSource> pieces = {ranged("a", DType::F32, {10, 10}, a, &log),
                                        ranged("b", DType::BF16, {37}, b, &log),
                                        ranged("empty", DType::F16, {0}, {}, &log), ranged("c", DType::F16, {3}, c, &log)};
    const std::string p = path("chunk" + std::to_string(chunk) + ".safetensors");
    write_safetensors(p, pieces, {{"format", "pt"}}, chunk);
    EXPECT_EQ(read_all(p), read_all(path("whole.safetensors"))) << "chunk " << chunk;
    // Pieces cover each tensor in order, at most the chunk (rounded down to a multiple of 8), in one buffer.
    const size_t cap = chunk - chunk % 8;
    std::map<std::string, size_t> next;
    for (const Piece& x : log) {
      EXPECT_NE(x.name, "empty") << "fill_range must not be called for an empty tensor";
      EXPECT_EQ(x.offset, next[x.name]) << x.name << " chunk " << chunk;
      EXPECT_GT(x.bytes, 0u);
      EXPECT_LE(x.bytes, cap);
      EXPECT_EQ(x.dst, log.front().dst) << "one buffer, allocated once";
      EXPECT_EQ(reinterpret_cast<uintptr_t>(x.dst) % 64, 0u);
      next[x.name] += x.bytes;
    }
    EXPECT_EQ(next["a"], a.size());
    EXPECT_EQ(next["b"], b.size());
    EXPECT_EQ(next["c"], c.size());
  }
}

// Peak resident set (VmHWM, bytes) of this process, after resetting it to the current resident set when the kernel
// allows (/proc/self/clear_refs "5"); `reset` says whether it did.
size_t peak_rss(bool reset_first, bool* reset = nullptr) {
  if (reset_first) {
    std::ofstream clear("/proc/self/clear_refs");
    clear << "5";
    clear.flush();
    if (reset) *reset = clear.good();
  }
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;  // "VmHWM:  123 kB"
  return 0;
}

// Word `i` of the large tensor's contents.
uint64_t word_at(uint64_t i) {
  uint64_t z = i * 0x9E3779B97F4A7C15ull + 1;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  return z ^ (z >> 27);
}

TEST_F(Safetensors, A600MBTensorIsWrittenThroughTheFixedBuffer) {
  const size_t numel = 150'000'000, bytes = numel * 4;  // 600 MB of F32
  size_t largest = 0, pieces = 0;
  TensorSource t{"big", DType::F32, {static_cast<int64_t>(numel)}, {}};
  t.fill_range = [&](void* dst, size_t offset, size_t n) {
    largest = std::max(largest, n);
    ++pieces;
    auto* w = static_cast<uint64_t*>(dst);
    for (size_t k = 0; k < n / 8; ++k) w[k] = word_at(offset / 8 + k);
  };
  const std::string p = path("big.safetensors");
  bool reset = false;
  const size_t before = peak_rss(true, &reset);
  write_safetensors(p, {from_bytes("small", DType::F32, {2}, Bytes(8)), t});
  const size_t growth = peak_rss(false) - before;
  EXPECT_LE(largest, kSafetensorsWriteChunk);
  EXPECT_EQ(pieces, (bytes + kSafetensorsWriteChunk - 1) / kSafetensorsWriteChunk);
  if (reset) {  // the buffer (8 MiB) and some slack; a tensor-sized buffer would add 600 MB
    EXPECT_LT(growth, size_t{160} << 20) << "peak resident set grew by " << growth << " bytes";
  }

  // The bytes, read back in pieces with read() (no mapping: the reads add nothing resident either).
  const auto f = SafetensorsFile::open(p);
  const SafetensorsTensor& big = *f.find("big");
  ASSERT_EQ(big.end - big.begin, bytes);
  std::vector<uint64_t> buf(size_t{1} << 20);
  size_t mismatches = 0;
  for (size_t off = 0; off < bytes; off += buf.size() * 8) {
    const size_t n = std::min(buf.size() * 8, bytes - off);
    f.read(big, off, buf.data(), n);
    for (size_t k = 0; k < n / 8; ++k) mismatches += buf[k] != word_at(off / 8 + k);
  }
  EXPECT_EQ(mismatches, 0u);
  if (reset) {
    EXPECT_LT(peak_rss(false) - before, size_t{160} << 20);
  }
}

TEST_F(Safetensors, ReadCopiesAnyRangeAndRefusesRangesOutsideTheTensor) {
  const Bytes a = pattern(4 * 50, 7), b = pattern(2 * 9, 8);
  const std::string p = path("read.safetensors");
  write_safetensors(p, {from_bytes("a", DType::F32, {50}, a), from_bytes("b", DType::BF16, {9}, b)});
  const auto f = SafetensorsFile::open(p);
  const SafetensorsTensor& ta = *f.find("a");
  for (const auto& [off, n] : std::vector<std::pair<size_t, size_t>>{{0, 200}, {0, 1}, {3, 17}, {199, 1}, {200, 0}}) {
    Bytes got(n + 1, 0xEE);
    f.read(ta, off, got.data(), n);
    EXPECT_EQ(Bytes(got.begin(), got.begin() + static_cast<long>(n)), Bytes(a.begin() + static_cast<long>(off),
                                                                           a.begin() + static_cast<long>(off + n)));
    EXPECT_EQ(got[n], 0xEE) << "read() wrote past the range";
  }
  Bytes got(18);
  f.read(*f.find("b"), 0, got.data(), 18);
  EXPECT_EQ(got, b);

  auto read_error = [&](const SafetensorsTensor& t, size_t off, size_t n) {
    Bytes dst(256);
    try {
      f.read(t, off, dst.data(), n);
    } catch (const StrataError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  expect_mentions(read_error(ta, 201, 0), {"read.safetensors", "'a'", "[201, 201 + 0)", "200-byte tensor"});
  expect_mentions(read_error(ta, 150, 51), {"read.safetensors", "'a'", "outside the tensor"});
  expect_mentions(read_error(ta, 1, std::numeric_limits<size_t>::max()), {"read.safetensors", "'a'", "outside"});
  SafetensorsTensor foreign = ta;
  foreign.name = "elsewhere";
  foreign.begin = 1000, foreign.end = 1200;
  expect_mentions(read_error(foreign, 0, 4), {"read.safetensors", "'elsewhere'", "another file"});

  // A file truncated after open: a short read names the file, the tensor and the file offset.
  std::filesystem::resize_file(p, f.data_offset() + 210);
  expect_mentions(read_error(*f.find("b"), 0, 18), {"read.safetensors", "tensor 'b'", "truncated"});
  const std::string short_read = read_error(*f.find("b"), 0, 18);
  EXPECT_NE(short_read.find("ends at file offset " + std::to_string(f.data_offset() + 210)), std::string::npos)
      << short_read;
}

TEST_F(Safetensors, OpenMapsNothingUntilDataIsCalled) {
  const std::string p = path("lazy.safetensors");
  write_safetensors(p, {from_bytes("t", DType::F32, {2}, Bytes{1, 2, 3, 4, 5, 6, 7, 8})});
  auto mapped = [&p] {
    std::ifstream maps("/proc/self/maps");
    std::string line;
    while (std::getline(maps, line))
      if (line.find(p) != std::string::npos) return true;
    return false;
  };
  const auto f = SafetensorsFile::open(p);
  Bytes got(8);
  f.read(*f.find("t"), 0, got.data(), 8);
  EXPECT_FALSE(mapped()) << "open() and read() must not map the file";
  EXPECT_EQ(static_cast<const unsigned char*>(f.data(*f.find("t")))[7], 8);
  EXPECT_TRUE(mapped());
}

TEST_F(Safetensors, TensorPiecesConvertLikeTheWholeTensor) {
  std::vector<float> w(1000);
  for (size_t i = 0; i < w.size(); ++i) w[i] = std::sin(0.37f * static_cast<float>(i)) * 3.0f;
  Bytes f32(w.size() * 4), bf16(w.size() * 2);
  std::memcpy(f32.data(), w.data(), f32.size());
  convert_from_f32(bf16.data(), w.data(), DType::BF16, w.size());
  const std::string p = path("pieces.safetensors");
  write_safetensors(p, {from_bytes("f", DType::F32, {1000}, f32), from_bytes("h", DType::BF16, {1000}, bf16)});
  const auto f = SafetensorsFile::open(p);
  for (const DType to : {DType::F32, DType::BF16, DType::F16}) {
    for (const char* name : {"f", "h"}) {
      const SafetensorsTensor& t = *f.find(name);
      std::vector<float> all(w.size());
      convert_to_f32(all.data(), t.dtype == DType::F32 ? f32.data() : bf16.data(), t.dtype, w.size());
      Bytes want(w.size() * dtype_size(to));
      convert_from_f32(want.data(), all.data(), to, w.size());
      Bytes got(want.size());
      size_t next = 0;
      read_tensor_pieces(
          f, t, to,
          [&](const void* values, size_t first, size_t n) {
            EXPECT_EQ(first, next);
            EXPECT_LE(n, 64u);
            std::memcpy(got.data() + first * dtype_size(to), values, n * dtype_size(to));
            next += n;
          },
          64);
      EXPECT_EQ(next, w.size());
      EXPECT_EQ(got, want) << name << " -> " << to_string(to);
    }
  }
}

TEST_F(Safetensors, ZeroSizeTensorsAndGapsAreFine) {
  // Zero-size tensors may share an offset with anything; the reader does not require a gap-free data section.
  const std::string p = raw("zero.safetensors",
                            R"({"e1":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},)"
                            R"("e2":{"dtype":"BF16","shape":[3,0,9],"data_offsets":[4,4]},)"
                            R"("w":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},)"
                            R"("v":{"dtype":"F16","shape":[1],"data_offsets":[6,8]}})",
                            8);
  EXPECT_EQ(open_error(p), "");
}

// ---- Malformed files --------------------------------------------------------

TEST_F(Safetensors, ShorterThanEightBytes) {
  const std::string p = write_bytes("short.safetensors", Bytes{1, 2, 3, 4, 5});
  expect_mentions(open_error(p), {"short.safetensors", "5 bytes", "shorter than the 8-byte"});
  expect_mentions(open_error(write_bytes("zero.safetensors", {})), {"zero.safetensors", "0 bytes"});
}

TEST_F(Safetensors, HeaderLengthPastEndOfFile) {
  const std::string p = raw("trunc.safetensors", "{}          ", 0, 1000);  // file is 20 bytes
  expect_mentions(open_error(p), {"trunc.safetensors", "1000", "file size of 20 bytes", "past the end"});
  // A length near 2^64 must not wrap around when 8 is added.
  const std::string q = raw("huge.safetensors", "{}", 0, UINT64_MAX);
  expect_mentions(open_error(q), {"huge.safetensors", "18446744073709551615", "file size of 10 bytes"});
  const std::string r = raw("huge2.safetensors", "{}", 0, UINT64_MAX - 7);
  expect_mentions(open_error(r), {"huge2.safetensors", "18446744073709551608"});
}

TEST_F(Safetensors, HeaderLargerThanFormatLimit) {
  const std::string p = path("big.safetensors");
  const uint64_t n = 100'000'001;
  Bytes b(8);
  for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>(n >> (8 * i));
  write_bytes("big.safetensors", b);
  ASSERT_EQ(::truncate(p.c_str(), static_cast<off_t>(8 + n)), 0);  // sparse: cheap
  expect_mentions(open_error(p), {"big.safetensors", "100000001", "limit"});
}

TEST_F(Safetensors, HeaderNotJson) {
  const std::string p = raw("bad.safetensors", R"({"a": [1, 2,})");
  expect_mentions(open_error(p), {"bad.safetensors", "not valid JSON", "header byte 12", "file offset 20"});
  expect_mentions(open_error(raw("nul.safetensors", std::string("{}\0\0", 4))),
                  {"nul.safetensors", "not valid JSON", "NUL byte at header byte 2 (file offset 10)"});
  expect_mentions(open_error(raw("utf8.safetensors", "{\"\xff\": 1}")), {"utf8.safetensors", "not valid JSON"});
}

TEST_F(Safetensors, HeaderNotObject) {
  expect_mentions(open_error(raw("arr.safetensors", "[1, 2]")), {"arr.safetensors", "must be a JSON object", "array"});
  expect_mentions(open_error(raw("num.safetensors", "42")), {"num.safetensors", "must be a JSON object", "number"});
}

TEST_F(Safetensors, EntryNotObject) {
  expect_mentions(open_error(raw("e.safetensors", R"({"w": 3})")),
                  {"e.safetensors", "tensor 'w'", "must be a JSON object", "number"});
}

TEST_F(Safetensors, UnknownDType) {
  const std::string p = raw("i8.safetensors", R"({"w": {"dtype": "I8", "shape": [4], "data_offsets": [0, 4]}})", 4);
  expect_mentions(open_error(p), {"i8.safetensors", "tensor 'w'", "\"I8\"", "F32, F16, BF16"});
  expect_mentions(open_error(raw("nodt.safetensors", R"({"w": {"shape": [4], "data_offsets": [0, 4]}})", 4)),
                  {"nodt.safetensors", "tensor 'w'", "\"dtype\""});
}

TEST_F(Safetensors, BadShape) {
  for (const char* shape : {"[2, -1]", "[2.5]", "\"x\"", "[[1]]", "[18446744073709551615]", "null"}) {
    const std::string p = raw("shape.safetensors", std::string(R"({"w": {"dtype": "F32", "shape": )") + shape +
                                                       R"(, "data_offsets": [0, 8]}})", 8);
    expect_mentions(open_error(p), {"shape.safetensors", "tensor 'w'", "\"shape\"", "non-negative integers"});
  }
  expect_mentions(open_error(raw("noshape.safetensors", R"({"w": {"dtype": "F32", "data_offsets": [0, 8]}})", 8)),
                  {"tensor 'w'", "\"shape\"", "nothing"});
}

TEST_F(Safetensors, BadDataOffsets) {
  for (const char* offs : {"[8, 4]", "[1]", "[-1, 3]", "[0.0, 4.0]", "[0, 4, 8]", "{}", "\"0,4\""}) {
    const std::string header =
        std::string(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": )") + offs + "}}";
    const std::string p = raw("offs.safetensors", header, 16);
    expect_mentions(open_error(p), {"offs.safetensors", "tensor 'w'", "data_offsets", "begin <= end"});
  }
}

TEST_F(Safetensors, TensorPastEndOfData) {
  const std::string header = R"({"w": {"dtype": "F32", "shape": [8], "data_offsets": [0, 32]}})";
  const std::string p = raw("short_data.safetensors", header, 16);
  const std::string data_start = std::to_string(8 + header.size());
  const std::string end = std::to_string(8 + header.size() + 32);
  const std::string size = std::to_string(8 + header.size() + 16);
  expect_mentions(open_error(p), {"short_data.safetensors", "tensor 'w'", "[0, 32]", ("file offset " + end).c_str(),
                                  (size + " bytes").c_str(), ("starts at file offset " + data_start).c_str()});
}

TEST_F(Safetensors, SizeMismatch) {
  const std::string p = raw("size.safetensors", R"({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", 16);
  expect_mentions(open_error(p),
                  {"size.safetensors", "tensor 'w'", "hold 8 bytes", "F32 x shape [3]", "needs 12 bytes"});
  const std::string q = raw("overflow.safetensors",
                            R"({"w": {"dtype": "F32", "shape": [4611686018427387904, 4], "data_offsets": [0, 8]}})", 8);
  expect_mentions(open_error(q), {"overflow.safetensors", "tensor 'w'", "more than 2^64"});
}

TEST_F(Safetensors, OverlappingTensors) {
  const std::string p = raw("overlap.safetensors",
                            R"({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},)"
                            R"( "c": {"dtype": "F32", "shape": [1], "data_offsets": [20, 24]},)"
                            R"( "b": {"dtype": "F16", "shape": [8], "data_offsets": [8, 24]}})",
                            24);
  expect_mentions(open_error(p), {"overlap.safetensors", "'a'", "'b'", "overlap"});
  // Contained inside a larger tensor that is not the immediate predecessor.
  const std::string q = raw("inside.safetensors",
                            R"({"big": {"dtype": "F32", "shape": [8], "data_offsets": [0, 32]},)"
                            R"( "x": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]},)"
                            R"( "y": {"dtype": "F32", "shape": [1], "data_offsets": [12, 16]}})",
                            32);
  expect_mentions(open_error(q), {"inside.safetensors", "'big'", "overlap"});
}

TEST_F(Safetensors, BadMetadata) {
  expect_mentions(open_error(raw("m1.safetensors", R"({"__metadata__": {"format": 1}})")),
                  {"m1.safetensors", "__metadata__", "'format'", "string"});
  expect_mentions(open_error(raw("m2.safetensors", R"({"__metadata__": ["pt"]})")),
                  {"m2.safetensors", "__metadata__", "array"});
}

TEST_F(Safetensors, DuplicateTensorName) {
  const std::string p = raw("dup.safetensors",
                            R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},)"
                            R"( "w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})",
                            8);
  expect_mentions(open_error(p), {"dup.safetensors", "'w'", "more than once"});
}

TEST_F(Safetensors, NotAFile) {
  expect_mentions(open_error(path("nope.safetensors")), {"nope.safetensors", "No such file"});
  expect_mentions(open_error(dir_), {dir_.c_str(), "not a regular file"});
}

// ---- Writer errors ----------------------------------------------------------

TEST_F(Safetensors, WriterValidatesSources) {
  const std::string p = path("w.safetensors");
  const Bytes four(4);
  expect_mentions(write_error(p, {from_bytes("a", DType::F32, {1}, four), from_bytes("a", DType::F32, {1}, four)}),
                  {"w.safetensors", "'a'", "appears twice"});
  expect_mentions(write_error(p, {TensorSource{"nofill", DType::F32, {1}, {}}}),
                  {"w.safetensors", "'nofill'", "no fill function"});
  TensorSource both = from_bytes("both", DType::F32, {1}, four);
  both.fill_range = [](void*, size_t, size_t) {};
  expect_mentions(write_error(p, {both}), {"w.safetensors", "'both'", "both fill and fill_range"});
  expect_mentions(write_error(p, {from_bytes("neg", DType::F32, {2, -3}, four)}),
                  {"w.safetensors", "'neg'", "negative dimension -3 at axis 1"});
  expect_mentions(write_error(p, {from_bytes("__metadata__", DType::F32, {1}, four)}), {"w.safetensors", "reserved"});
  expect_mentions(write_error(p, {from_bytes("", DType::F32, {1}, four)}), {"w.safetensors", "empty name"});
  expect_mentions(write_error(p, {from_bytes("bad\xff", DType::F32, {1}, four)}), {"w.safetensors", "UTF-8"});
  EXPECT_FALSE(std::filesystem::exists(p)) << "validation failures must not create the file";
}

TEST_F(Safetensors, WriterIoErrors) {
  const std::string missing = path("no_such_dir/out.safetensors");
  expect_mentions(write_error(missing, {from_bytes("a", DType::F32, {1}, Bytes(4))}),
                  {"no_such_dir/out.safetensors", "No such file or directory", "directory exists"});

  struct stat st {};
  if (::stat("/dev/full", &st) == 0 && S_ISCHR(st.st_mode)) {
    expect_mentions(write_error("/dev/full", {from_bytes("a", DType::F32, {1}, Bytes(4))}),
                    {"'/dev/full'", "No space left on device", "file offset 0"});
    EXPECT_TRUE(std::filesystem::exists("/dev/full")) << "the writer must never unlink a device";
  }
}

TEST_F(Safetensors, FillThatThrowsRemovesThePartialFile) {
  const std::string p = path("partial.safetensors");
  std::vector<TensorSource> ts = {from_bytes("ok", DType::F32, {1}, Bytes(4)),
                                  {"boom", DType::F32, {1}, [](void*) { STRATA_FAIL("source exploded"); }}};
  EXPECT_THROW(write_safetensors(p, ts), StrataError);
  EXPECT_FALSE(std::filesystem::exists(p));
}

// ---- Robustness -------------------------------------------------------------

// Opening must either succeed with every tensor inside the file, or throw StrataError: no crash, no other exception.
void open_must_not_crash(const std::string& p, size_t file_size, int* opened) {
  try {
    const auto f = SafetensorsFile::open(p);
    unsigned sum = 0;
    for (const auto& [name, t] : f.tensors()) {
      ASSERT_LE(f.data_offset() + t.end, file_size) << name;
      const auto* d = static_cast<const unsigned char*>(f.data(t));
      for (size_t i = 0; i < t.end - t.begin; ++i) sum += d[i];  // touches every byte of the mapping it claims
    }
    (void)sum;
    ++*opened;
  } catch (const StrataError&) {
  } catch (const std::exception& e) {
    ADD_FAILURE() << "non-StrataError exception: " << e.what();
  } catch (...) {
    ADD_FAILURE() << "unknown exception type";
  }
}

TEST_F(Safetensors, FuzzTruncationsMutationsGarbage) {
  const std::string valid = path("valid.safetensors");
  write_safetensors(valid,
                    {from_bytes("model.embed_tokens.weight", DType::BF16, {4, 3}, pattern(24, 1)),
                     from_bytes("model.norm.weight", DType::F32, {3}, pattern(12, 2)),
                     from_bytes("lm_head.weight", DType::F16, {2, 3}, pattern(12, 3)),
                     from_bytes("empty", DType::F32, {0}, {})},
                    {{"format", "pt"}});
  const Bytes good = read_all(valid);
  const std::string p = path("fuzz.safetensors");
  int opened = 0;

  for (size_t len = 0; len <= good.size(); ++len) {  // every truncation
    write_bytes("fuzz.safetensors", Bytes(good.begin(), good.begin() + static_cast<long>(len)));
    open_must_not_crash(p, len, &opened);
  }
  EXPECT_EQ(opened, 1) << "only the untruncated file is valid";

  std::mt19937 rng(42);
  static const char kAlphabet[] = "{}[]\",:0123456789-+.eE \\u\0xFBI";
  const std::string alphabet(kAlphabet, sizeof kAlphabet - 1);  // includes the NUL byte
  for (int iter = 0; iter < 1500; ++iter) {  // byte mutations, mostly in the prefix and header
    Bytes b = good;
    const int edits = 1 + static_cast<int>(rng() % 6);
    for (int e = 0; e < edits; ++e) {
      const size_t at = rng() % 4 ? rng() % std::min<size_t>(b.size(), 8 + 200) : rng() % b.size();
      b[at] = static_cast<unsigned char>(rng() % 2 ? alphabet[rng() % alphabet.size()] : static_cast<char>(rng()));
    }
    if (rng() % 8 == 0) b.resize(rng() % b.size());
    write_bytes("fuzz.safetensors", b);
    open_must_not_crash(p, b.size(), &opened);
  }
  for (int iter = 0; iter < 500; ++iter) {  // garbage, half with a plausible header length
    Bytes b = pattern(rng() % 300, static_cast<unsigned>(iter));
    if (iter % 2 && b.size() >= 8) {
      const uint64_t n = rng() % (b.size() - 7);
      for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>(n >> (8 * i));
      if (b.size() > 8) b[8] = '{';
    }
    write_bytes("fuzz.safetensors", b);
    open_must_not_crash(p, b.size(), &opened);
  }
}

}  // namespace
}  // namespace strata
