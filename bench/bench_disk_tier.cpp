// Benchmark: layer-blob read GB/s of the disk tier (io_uring + O_DIRECT, and the pread thread pool), sequential and
// random order, against fio (--ioengine=io_uring --direct=1 --bs=1M --iodepth=8) on the same directory, as a ratio.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include "core/check.h"
#include "offload/tier_store.h"

using namespace strata;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  std::string dir;
  size_t total_mib = 768;
  size_t blob_mib = 16;
  int in_flight = 2;  // blob reads outstanding (each is 16 x 1 MiB chunks: the engines keep their queues full)
  int repeat = 3;     // timed passes per figure (median), fio --loops (the disk is shared: figures are noisy)
};

struct AlignedFree {
  void operator()(void* p) const { std::free(p); }
};
using AlignedBuf = std::unique_ptr<unsigned char, AlignedFree>;

AlignedBuf aligned(size_t bytes) {
  auto* p = static_cast<unsigned char*>(std::aligned_alloc(4096, bytes));
  STRATA_CHECK(p != nullptr, "bench_disk_tier: out of host memory for a " + std::to_string(bytes) + "-byte buffer");
  return AlignedBuf(p);
}

// Distinct content per blob, cheap to generate (splitmix64 of blob and word index).
void fill_blob(unsigned char* p, size_t bytes, int id) {
  uint64_t x = 0x9e3779b97f4a7c15ull * static_cast<uint64_t>(id + 1);
  for (size_t i = 0; i + 8 <= bytes; i += 8) {
    x += 0x9e3779b97f4a7c15ull;
    uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    std::memcpy(p + i, &z, 8);
  }
}

// Reads every blob once in `order` with bufs.size() reads outstanding; returns GB/s (10^9 bytes per second).
double read_pass(TierStore& tier, const std::vector<int>& order, std::vector<AlignedBuf>& bufs) {
  std::deque<Ticket> pending;
  const auto t0 = Clock::now();
  for (size_t k = 0; k < order.size(); ++k) {
    if (pending.size() == bufs.size()) {
      tier.wait(pending.front());
      pending.pop_front();
    }
    pending.push_back(tier.read(order[k], bufs[k % bufs.size()].get()));
  }
  while (!pending.empty()) {
    tier.wait(pending.front());
    pending.pop_front();
  }
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  return static_cast<double>(order.size()) * static_cast<double>(tier.blob_bytes()) / s / 1e9;
}

double median_pass(TierStore& tier, const std::vector<int>& order, std::vector<AlignedBuf>& bufs, int repeat) {
  std::vector<double> gbs;
  for (int i = 0; i < repeat; ++i) gbs.push_back(read_pass(tier, order, bufs));
  std::sort(gbs.begin(), gbs.end());
  return gbs[gbs.size() / 2];
}

struct EngineResult {
  std::string name;
  double write_gbs = 0, seq_verified_gbs = 0, seq_gbs = 0, random_gbs = 0;
};

EngineResult run_engine(const Options& opt, DiskIo io) {
  const size_t blob = opt.blob_mib << 20;
  const int n = static_cast<int>(opt.total_mib / opt.blob_mib);
  const std::string path = (fs::path(opt.dir) / "bench_disk_tier.bin").string();
  auto tier = make_disk_tier(path, n, blob, VerifyPolicy::First, io,
                             [](const std::string& m) { std::printf("  warning: %s\n", m.c_str()); });
  EngineResult r;
  r.name = tier->name();

  std::vector<AlignedBuf> bufs;
  for (int i = 0; i < opt.in_flight; ++i) bufs.push_back(aligned(blob));
  // Writes: fill one buffer while the other is being written.
  std::vector<Ticket> writing(bufs.size(), 0);
  const auto t0 = Clock::now();
  for (int id = 0; id < n; ++id) {
    const size_t slot = static_cast<size_t>(id) % bufs.size();
    if (writing[slot] != 0) tier->wait(writing[slot]);
    fill_blob(bufs[slot].get(), blob, id);
    writing[slot] = tier->write(id, bufs[slot].get());
  }
  for (Ticket t : writing)
    if (t != 0) tier->wait(t);
  r.write_gbs = static_cast<double>(n) * static_cast<double>(blob) /
                std::chrono::duration<double>(Clock::now() - t0).count() / 1e9;

  std::vector<int> seq(n);
  std::iota(seq.begin(), seq.end(), 0);
  std::vector<int> random = seq;
  std::shuffle(random.begin(), random.end(), std::mt19937(1234));
  r.seq_verified_gbs = read_pass(*tier, seq, bufs);  // first reads after the writes: XXH3-verified
  r.seq_gbs = median_pass(*tier, seq, bufs, opt.repeat);
  r.random_gbs = median_pass(*tier, random, bufs, opt.repeat);
  return r;
}

// fio's sequential O_DIRECT io_uring read bandwidth (bytes/s) on a file of `bytes` in `dir`, or -1 with a reason.
double run_fio(const std::string& dir, size_t bytes, int loops, std::string* why) {
  if (std::system("command -v fio > /dev/null 2>&1") != 0) {
    *why = "fio is not installed (apt-get install fio, or bash scripts/setup.sh)";
    return -1;
  }
  const std::string file = (fs::path(dir) / "fio.tmp").string();
  const std::string cmd = "fio --name=seqread --filename=" + file +
                          " --ioengine=io_uring --direct=1 --rw=read --bs=1M --size=" + std::to_string(bytes) +
                          " --iodepth=8 --loops=" + std::to_string(loops) + " --output-format=json 2>&1";
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    std::array<char, 4096> chunk{};
    size_t got = 0;
    while ((got = std::fread(chunk.data(), 1, chunk.size(), p)) > 0) out.append(chunk.data(), got);
    ::pclose(p);
  }
  std::error_code ec;
  fs::remove(file, ec);
  const size_t brace = out.find('{');
  try {
    if (brace == std::string::npos) throw std::runtime_error("no JSON");
    const auto j = nlohmann::json::parse(out.substr(brace));
    return j.at("jobs").at(0).at("read").at("bw_bytes").get<double>();
  } catch (const std::exception&) {
    *why = "fio failed: " + out.substr(0, 300);
    return -1;
  }
}

void usage() {
  std::printf(
      "usage: bench_disk_tier [--dir DIR] [--mib TOTAL_MiB] [--blob-mib MiB] [--in-flight N] [--repeat R]\n"
      "  writes TOTAL_MiB (default 768) of MiB-sized (default 16) layer blobs to a disk tier file in DIR, reads them\n"
      "  back sequentially and in random order with the io_uring and the pread engines (median of R passes,\n"
      "  default 3), and compares with fio (--loops=R)\n"
      "  (default DIR: %s if it exists, else the current directory)\n",
      STRATA_BENCH_RUNS_DIR);
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  opt.dir = fs::is_directory(STRATA_BENCH_RUNS_DIR) ? STRATA_BENCH_RUNS_DIR : ".";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--dir" && has_value) {
      opt.dir = argv[++i];
    } else if (a == "--mib" && has_value) {
      opt.total_mib = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--blob-mib" && has_value) {
      opt.blob_mib = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--in-flight" && has_value) {
      opt.in_flight = std::atoi(argv[++i]);
    } else if (a == "--repeat" && has_value) {
      opt.repeat = std::atoi(argv[++i]);
    } else {
      usage();
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
  if (opt.blob_mib == 0 || opt.total_mib < opt.blob_mib || opt.in_flight < 1 || opt.repeat < 1) {
    usage();
    return 2;
  }
  try {
    const size_t total = opt.total_mib / opt.blob_mib * (opt.blob_mib << 20);
    std::printf("bench_disk_tier: %zu blobs of %zu MiB (%.0f MiB) in %s, %d blob reads in flight\n",
                opt.total_mib / opt.blob_mib, opt.blob_mib, total / 1048576.0, fs::absolute(opt.dir).c_str(),
                opt.in_flight);
    std::vector<EngineResult> results;
    for (DiskIo io : {DiskIo::Auto, DiskIo::Pread}) results.push_back(run_engine(opt, io));
    std::string why;
    const double fio = run_fio(opt.dir, total, opt.repeat, &why);
    std::printf("  %-26s %10s %14s %10s %10s\n", "engine (GB/s)", "write", "seq 1st(xxh3)", "seq", "random");
    for (const EngineResult& r : results) {
      std::printf("  %-26s %10.3f %14.3f %10.3f %10.3f", r.name.c_str(), r.write_gbs, r.seq_verified_gbs, r.seq_gbs,
                  r.random_gbs);
      if (fio > 0) std::printf("   seq/fio %.2f  random/fio %.2f", r.seq_gbs * 1e9 / fio, r.random_gbs * 1e9 / fio);
      std::printf("\n");
    }
    if (fio > 0) {
      std::printf("  %-26s %10s %14s %10.3f\n", "fio io_uring direct bs=1M", "", "", fio / 1e9);
    } else {
      std::printf("  fio: %s; printing only ours\n", why.c_str());
    }
  } catch (const StrataError& e) {
    std::fprintf(stderr, "bench_disk_tier: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
