// Tests of the TierStores (host, disk io_uring, disk pread): round trips with reads in flight, checksum detection and
// verify policies, the auto fallbacks and their one warning, preallocation errors, misuse errors, file cleanup.
#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "backend/backend_registry.h"
#include "core/check.h"
#include "offload/disk_tiers.h"
#include "offload/tier_store.h"

using namespace strata;
namespace fs = std::filesystem;

namespace {

// 4096-aligned host memory.
struct Aligned {
  explicit Aligned(size_t n) : bytes(n), p(static_cast<unsigned char*>(std::aligned_alloc(4096, n))) {}
  ~Aligned() { std::free(p); }
  Aligned(const Aligned&) = delete;
  Aligned& operator=(const Aligned&) = delete;
  size_t bytes;
  unsigned char* p;
};

void fill(Aligned& a, uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (size_t i = 0; i + 8 <= a.bytes; i += 8) {
    const uint64_t v = rng();
    std::memcpy(a.p + i, &v, 8);
  }
}

bool direct_io_works(const fs::path& dir) {
  const std::string probe = (dir / ("strata_odirect_probe_" + std::to_string(::getpid()))).string();
  const int fd = ::open(probe.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0600);
  if (fd < 0) return false;
  Aligned page(4096);
  std::memset(page.p, 0, 4096);
  const bool ok = ::pwrite(fd, page.p, 4096, 0) == 4096;
  ::close(fd);
  ::unlink(probe.c_str());
  return ok;
}

// A fresh directory on a file system that supports O_DIRECT (the temp dir, else the working directory).
struct TempDir {
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string leaf = std::string("strata_tier_") + info->test_suite_name() + "_" + info->name() + "_" +
                       std::to_string(::getpid());
    std::replace(leaf.begin(), leaf.end(), '/', '_');
    fs::path base = fs::temp_directory_path();
    if (!direct_io_works(base)) base = fs::current_path();
    path = base / leaf;
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
  fs::path path;
};

enum class Kind { Host, Uring, Pread };

std::string kind_name(Kind k) { return k == Kind::Host ? "Host" : k == Kind::Uring ? "Uring" : "Pread"; }

std::string block_namer(int id) { return "block " + std::to_string(id + 10); }

// Flips one byte of the file (outside the tier, as a failing disk would).
void corrupt_byte(const std::string& path, uint64_t offset) {
  const int fd = ::open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0) << path;
  unsigned char b = 0;
  ASSERT_EQ(::pread(fd, &b, 1, static_cast<off_t>(offset)), 1);
  b ^= 0x5a;
  ASSERT_EQ(::pwrite(fd, &b, 1, static_cast<off_t>(offset)), 1);
  ::fsync(fd);
  ::close(fd);
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const StrataError& e) {
    return e.what();
  }
  return "";
}

// Blob size of 1 MiB + 12 KiB: two chunks per blob in the disk engines (a full one and a short one).
constexpr size_t kBlob = (1 << 20) + 3 * 4096;

class TierStoreTest : public ::testing::TestWithParam<Kind> {
 protected:
  void SetUp() override {
    if (GetParam() == Kind::Uring && probe_io_uring() != 0) {
      GTEST_SKIP() << "io_uring is unavailable on this machine (" << std::strerror(probe_io_uring())
                   << "); the pread engine is tested instead";
    }
    if (GetParam() == Kind::Host) backend_ = make_backend("cpu");
  }

  std::unique_ptr<TierStore> make(int n, VerifyPolicy verify, size_t blob = kBlob) {
    switch (GetParam()) {
      case Kind::Host:
        return make_host_tier(*backend_, n, blob, verify, block_namer);
      case Kind::Uring:
        return make_disk_tier(path(), n, blob, verify, DiskIo::Uring, {}, block_namer);
      case Kind::Pread:
        return make_disk_tier(path(), n, blob, verify, DiskIo::Pread, {}, block_namer);
    }
    return nullptr;
  }
  std::string path() const { return dir_.file("blobs.bin"); }

  TempDir dir_;
  std::unique_ptr<Backend> backend_;
};

TEST_P(TierStoreTest, RoundTripRandomOrderWithReadsInFlight) {
  const int n = 6;
  auto tier = make(n, VerifyPolicy::First);
  ASSERT_NE(tier, nullptr);
  EXPECT_EQ(tier->num_blobs(), n);
  EXPECT_EQ(tier->blob_bytes(), kBlob);
  const char* expected_name = GetParam() == Kind::Host    ? "host"
                              : GetParam() == Kind::Uring ? "disk (io_uring, O_DIRECT)"
                                                          : "disk (pread, O_DIRECT)";
  EXPECT_EQ(tier->name(), expected_name);

  std::vector<std::unique_ptr<Aligned>> src;
  std::vector<Ticket> writes;
  for (int i = 0; i < n; ++i) {
    src.push_back(std::make_unique<Aligned>(kBlob));
    fill(*src.back(), 1000 + i);
    writes.push_back(tier->write(i, src.back()->p));  // all writes in flight at once
  }
  for (Ticket t : writes) tier->wait(t);

  // Two rounds of reads in a seeded random order, four in flight, each checked bitwise.
  std::vector<int> order;
  for (int r = 0; r < 2; ++r)
    for (int i = 0; i < n; ++i) order.push_back(i);
  std::shuffle(order.begin(), order.end(), std::mt19937(7));
  constexpr int kInFlight = 4;
  std::vector<std::unique_ptr<Aligned>> dst;
  for (int i = 0; i < kInFlight; ++i) dst.push_back(std::make_unique<Aligned>(kBlob));
  struct Pending {
    Ticket t;
    int id;
    int slot;
  };
  std::deque<Pending> pending;
  auto retire = [&] {
    Pending p = pending.front();
    pending.pop_front();
    tier->wait(p.t);
    EXPECT_EQ(std::memcmp(dst[p.slot]->p, src[p.id]->p, kBlob), 0) << "blob " << p.id;
  };
  for (size_t k = 0; k < order.size(); ++k) {
    if (pending.size() == kInFlight) retire();
    const int slot = static_cast<int>(k % kInFlight);
    std::memset(dst[slot]->p, 0xee, kBlob);
    pending.push_back({tier->read(order[k], dst[slot]->p), order[k], slot});
  }
  // Poll the newest until it completes (poll never blocks), then drain.
  while (!tier->poll(pending.back().t)) std::this_thread::yield();
  while (!pending.empty()) retire();

  const TierStats s = tier->stats();
  EXPECT_EQ(s.writes, static_cast<uint64_t>(n));
  EXPECT_EQ(s.reads, order.size());
  EXPECT_EQ(s.bytes_written, n * kBlob);
  EXPECT_EQ(s.bytes_read, order.size() * kBlob);
  EXPECT_GT(s.read_busy_seconds, 0.0);
}

TEST_P(TierStoreTest, ReadOfNeverWrittenBlobIsAnError) {
  auto tier = make(3, VerifyPolicy::First);
  Aligned buf(kBlob);
  const std::string e = error_of([&] { tier->read(1, buf.p); });
  EXPECT_NE(e.find("block 11"), std::string::npos) << e;
  EXPECT_NE(e.find("never written"), std::string::npos) << e;
}

TEST_P(TierStoreTest, MisuseIsReported) {
  auto tier = make(2, VerifyPolicy::First);
  Aligned buf(kBlob + 4096);
  fill(buf, 3);
  EXPECT_NE(error_of([&] { tier->write(2, buf.p); }).find("out of range"), std::string::npos);
  EXPECT_NE(error_of([&] { tier->write(0, buf.p + 8); }).find("4096-byte aligned"), std::string::npos);
  EXPECT_NE(error_of([&] { tier->wait(12345); }).find("not outstanding"), std::string::npos);
  const Ticket t = tier->write(0, buf.p);
  tier->wait(t);
  EXPECT_NE(error_of([&] { tier->wait(t); }).find("already waited"), std::string::npos);
}

TEST_P(TierStoreTest, DestructionWaitsForOutstandingReadsAndRemovesTheFile) {
  std::vector<std::unique_ptr<Aligned>> bufs;  // outlive the tier: its destructor waits for reads into them
  {
    auto tier = make(4, VerifyPolicy::Always);
    for (int i = 0; i < 4; ++i) {
      bufs.push_back(std::make_unique<Aligned>(kBlob));
      fill(*bufs.back(), i);
      tier->wait(tier->write(i, bufs.back()->p));
    }
    for (int i = 0; i < 4; ++i) tier->read(i, bufs[i]->p);  // never waited for
    EXPECT_EQ(fs::exists(path()), GetParam() != Kind::Host);
  }
  EXPECT_FALSE(fs::exists(path()));
}

INSTANTIATE_TEST_SUITE_P(Tiers, TierStoreTest, ::testing::Values(Kind::Host, Kind::Uring, Kind::Pread),
                         [](const auto& info) { return kind_name(info.param); });

// ---- disk tiers: checksums against a corrupted file --------------------------------------------------------------

class DiskTierTest : public TierStoreTest {};

TEST_P(DiskTierTest, CorruptionIsReportedWithBlobPathAndOffset) {
  auto tier = make(5, VerifyPolicy::First);
  std::vector<std::unique_ptr<Aligned>> src;
  for (int i = 0; i < 5; ++i) {
    src.push_back(std::make_unique<Aligned>(kBlob));
    fill(*src.back(), 50 + i);
    tier->wait(tier->write(i, src.back()->p));
  }
  corrupt_byte(path(), 3 * kBlob + kBlob - 100);  // in the second (short) chunk of blob 3
  Aligned dst(kBlob);
  tier->wait(tier->read(2, dst.p));  // a neighbour is fine
  const Ticket t = tier->read(3, dst.p);
  const std::string e = error_of([&] { tier->wait(t); });
  EXPECT_NE(e.find("block 13: checksum mismatch in " + path() + " at byte offset " + std::to_string(3 * kBlob)),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("(blob of " + std::to_string(kBlob) + " bytes)"), std::string::npos) << e;
  EXPECT_NE(e.find("delete it and restart the run"), std::string::npos) << e;
}

TEST_P(DiskTierTest, VerifyPolicyFirstChecksOnlyTheFirstReadAfterAWrite) {
  for (VerifyPolicy policy : {VerifyPolicy::First, VerifyPolicy::Always, VerifyPolicy::Never}) {
    auto tier = make(2, policy);
    Aligned src(kBlob), dst(kBlob);
    fill(src, 9);
    tier->wait(tier->write(1, src.p));
    tier->wait(tier->read(1, dst.p));  // verified (First, Always) and fine
    corrupt_byte(path(), kBlob + 17);
    const std::string e = error_of([&] { tier->wait(tier->read(1, dst.p)); });
    if (policy == VerifyPolicy::Always) {
      EXPECT_NE(e.find("checksum mismatch"), std::string::npos) << e;
    } else {
      EXPECT_EQ(e, "") << "First and Never do not check a second read";
      EXPECT_NE(std::memcmp(src.p, dst.p, kBlob), 0);
    }
    // A new write makes the next read verified again under First.
    tier->wait(tier->write(1, src.p));
    corrupt_byte(path(), kBlob + 4096);
    const std::string e2 = error_of([&] { tier->wait(tier->read(1, dst.p)); });
    EXPECT_EQ(e2.empty(), policy == VerifyPolicy::Never) << e2;
  }
}

INSTANTIATE_TEST_SUITE_P(Disk, DiskTierTest, ::testing::Values(Kind::Uring, Kind::Pread),
                         [](const auto& info) { return kind_name(info.param); });

// ---- engine choice and fallbacks ---------------------------------------------------------------------------------

// Writes 3 seeded blobs, reads them back, checks them, and returns the raw file contents (before destruction).
std::vector<char> round_trip_file(TierStore& tier, const std::string& path) {
  std::vector<std::unique_ptr<Aligned>> src;
  for (int i = 0; i < tier.num_blobs(); ++i) {
    src.push_back(std::make_unique<Aligned>(tier.blob_bytes()));
    fill(*src.back(), 77 + i);
    tier.wait(tier.write(i, src.back()->p));
  }
  Aligned dst(tier.blob_bytes());
  for (int i = tier.num_blobs() - 1; i >= 0; --i) {
    tier.wait(tier.read(i, dst.p));
    EXPECT_EQ(std::memcmp(dst.p, src[i]->p, tier.blob_bytes()), 0) << tier.name() << " blob " << i;
  }
  std::ifstream in(path, std::ios::binary);
  return std::vector<char>(std::istreambuf_iterator<char>(in), {});
}

TEST(DiskTierChoice, ForcedPreadWritesTheSameFileAsIoUring) {
  if (probe_io_uring() != 0) GTEST_SKIP() << "io_uring is unavailable here: " << std::strerror(probe_io_uring());
  TempDir dir;
  std::vector<std::string> warnings;
  auto warn = [&](const std::string& m) { warnings.push_back(m); };
  auto uring = make_disk_tier(dir.file("a.bin"), 3, kBlob, VerifyPolicy::Always, DiskIo::Auto, warn);
  EXPECT_EQ(uring->name(), "disk (io_uring, O_DIRECT)");
  auto pread = make_disk_tier(dir.file("b.bin"), 3, kBlob, VerifyPolicy::Always, DiskIo::Pread, warn);
  EXPECT_EQ(pread->name(), "disk (pread, O_DIRECT)");
  EXPECT_TRUE(warnings.empty());
  const std::vector<char> a = round_trip_file(*uring, dir.file("a.bin"));
  const std::vector<char> b = round_trip_file(*pread, dir.file("b.bin"));
  EXPECT_EQ(a.size(), 3 * kBlob);
  EXPECT_TRUE(a == b);
}

TEST(DiskTierChoice, AutoFallsBackWithExactlyOneWarning) {
  TempDir dir;
  struct Case {
    DiskRefusals refusals;
    std::vector<std::string> expect;  // substrings of the one warning
    std::string name;
  };
  const std::vector<Case> cases = {
      {{EPERM, 0}, {"io_uring unavailable (Operation not permitted); using the pread thread pool"}, "disk (pread, O_DIRECT)"},
      {{ENOSYS, 0}, {"io_uring unavailable (Function not implemented)"}, "disk (pread, O_DIRECT)"},
      {{0, EINVAL}, {"O_DIRECT not supported on " + dir.file("f.bin"), ": using buffered pread"}, "disk (pread, buffered)"},
      {{EPERM, EINVAL}, {"io_uring unavailable", "O_DIRECT not supported on " + dir.file("f.bin")}, "disk (pread, buffered)"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> warnings;
    auto tier = make_disk_tier_with(c.refusals, dir.file("f.bin"), 2, kBlob, VerifyPolicy::First, DiskIo::Auto,
                                    [&](const std::string& m) { warnings.push_back(m); }, {});
    ASSERT_EQ(warnings.size(), 1u);
    for (const std::string& s : c.expect) EXPECT_NE(warnings[0].find(s), std::string::npos) << warnings[0];
    EXPECT_EQ(tier->name(), c.name);
    round_trip_file(*tier, dir.file("f.bin"));
  }
}

TEST(DiskTierChoice, ForcedModesFailInsteadOfFallingBackOrStayQuiet) {
  TempDir dir;
  std::vector<std::string> warnings;
  auto warn = [&](const std::string& m) { warnings.push_back(m); };
  std::string e = error_of([&] {
    make_disk_tier_with({EPERM, 0}, dir.file("f.bin"), 2, kBlob, VerifyPolicy::First, DiskIo::Uring, warn, {});
  });
  EXPECT_NE(e.find("io_uring unavailable (Operation not permitted)"), std::string::npos) << e;
  e = error_of([&] {
    make_disk_tier_with({0, EINVAL}, dir.file("f.bin"), 2, kBlob, VerifyPolicy::First, DiskIo::Uring, warn, {});
  });
  EXPECT_NE(e.find("O_DIRECT not supported on " + dir.file("f.bin")), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(dir.file("f.bin")));
  // Pread is chosen, not a fallback: no warning even when O_DIRECT is refused.
  auto tier = make_disk_tier_with({EPERM, EINVAL}, dir.file("f.bin"), 2, kBlob, VerifyPolicy::First, DiskIo::Pread,
                                  warn, {});
  EXPECT_EQ(tier->name(), "disk (pread, buffered)");
  EXPECT_TRUE(warnings.empty());
}

TEST(DiskTierChoice, AutoOnDevShmWarnsOnlyIfODirectFailsThere) {
  if (!fs::is_directory("/dev/shm") || ::access("/dev/shm", W_OK) != 0) GTEST_SKIP() << "no writable /dev/shm";
  const std::string path = "/dev/shm/strata_tier_test_" + std::to_string(::getpid()) + ".bin";
  const bool direct = direct_io_works("/dev/shm");  // tmpfs supports O_DIRECT since Linux 6.6
  std::vector<std::string> warnings;
  {
    auto tier = make_disk_tier(path, 2, kBlob, VerifyPolicy::First, DiskIo::Auto,
                               [&](const std::string& m) { warnings.push_back(m); });
    round_trip_file(*tier, path);
    const bool uring = probe_io_uring() == 0;
    if (direct && uring) {
      EXPECT_TRUE(warnings.empty()) << warnings[0];
      EXPECT_EQ(tier->name(), "disk (io_uring, O_DIRECT)");
    } else {
      ASSERT_EQ(warnings.size(), 1u);
      if (!direct) {
        EXPECT_NE(warnings[0].find("O_DIRECT not supported on " + path), std::string::npos) << warnings[0];
      }
    }
  }
  EXPECT_FALSE(fs::exists(path));
}

TEST(DiskTierChoice, PreallocationBeyondFreeSpaceFailsClearlyAndLeavesNothing) {
  TempDir dir;
  struct statvfs vfs {};
  ASSERT_EQ(::statvfs(dir.path.c_str(), &vfs), 0);
  const uint64_t free_bytes = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
  const size_t blob = size_t{1} << 30;
  const int n = static_cast<int>(2 * free_bytes / blob) + 1;
  for (DiskIo io : {DiskIo::Auto, DiskIo::Pread}) {
    const std::string path = dir.file("huge.bin");
    const std::string e =
        error_of([&] { make_disk_tier(path, n, blob, VerifyPolicy::First, io, [](const std::string&) {}); });
    EXPECT_NE(e.find(path), std::string::npos) << e;
    EXPECT_NE(e.find(std::to_string(static_cast<uint64_t>(n) * blob) + " bytes"), std::string::npos) << e;
    EXPECT_NE(e.find("free"), std::string::npos) << e;
    EXPECT_NE(e.find("No space left on device"), std::string::npos) << e;
    EXPECT_FALSE(fs::exists(path));
  }
}

TEST(DiskTierChoice, BadShapesAndUncreatableFilesAreErrors) {
  TempDir dir;
  EXPECT_NE(error_of([&] { make_disk_tier(dir.file("x"), 2, 1000, VerifyPolicy::First, DiskIo::Auto); })
                .find("multiple of 4096"),
            std::string::npos);
  EXPECT_NE(error_of([&] { make_disk_tier(dir.file("x"), 0, 4096, VerifyPolicy::First, DiskIo::Auto); })
                .find("at least one blob"),
            std::string::npos);
  const std::string missing = dir.file("no/such/dir/f.bin");
  const std::string e = error_of([&] { make_disk_tier(missing, 1, 4096, VerifyPolicy::First, DiskIo::Auto); });
  EXPECT_NE(e.find(missing), std::string::npos) << e;
  EXPECT_NE(e.find("No such file or directory"), std::string::npos) << e;
  EXPECT_NE(error_of([&] { make_disk_tier(dir.path.string(), 1, 4096, VerifyPolicy::First, DiskIo::Auto); })
                .find("not a regular file"),
            std::string::npos);
}

// The tier enums are spelled through their one name table (the run config and flags parse with it).
TEST(TierStoreConfig, NamesRoundTripAndMisspellingsAreNamed) {
  for (VerifyPolicy v : {VerifyPolicy::First, VerifyPolicy::Always, VerifyPolicy::Never})
    EXPECT_EQ(parse_enum<VerifyPolicy>(enum_name(v), "memory.verify"), v);
  for (DiskIo v : {DiskIo::Auto, DiskIo::Uring, DiskIo::Pread})
    EXPECT_EQ(parse_enum<DiskIo>(enum_name(v), "memory.io"), v);
  EXPECT_EQ(enum_name(DiskIo::Uring), "uring");
  const std::string verify = error_of([] { parse_enum<VerifyPolicy>("sometimes", "memory.verify"); });
  EXPECT_NE(verify.find("memory.verify: 'sometimes'"), std::string::npos) << verify;
  const std::string io = error_of([] { parse_enum<DiskIo>("urnig", "memory.io"); });
  EXPECT_NE(io.find("auto, uring or pread"), std::string::npos) << io;
  EXPECT_NE(io.find("did you mean 'uring'?"), std::string::npos) << io;
}

}  // namespace
