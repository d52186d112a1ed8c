// `strata probe`: measures this machine: GEMM FLOP/s (sgemm on the CPU backend), host->device copy GB/s from
// pinned and pageable memory, and disk-tier read GB/s; writes them to probe_path() for `strata plan`.
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

#include "backend/backend_registry.h"
#include "core/atomic_file.h"
#include "core/check.h"
#include "cli/commands.h"
#include "plan/planner.h"
#include "offload/tier_store.h"

namespace strata {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double gemm_tflops() {
  const int n = 1536;
  std::vector<float> a((size_t)n * n, 0.5f), b((size_t)n * n, 0.25f), c((size_t)n * n);
  double best = 1e30;
  for (int r = 0; r < 4; ++r) {
    const auto t = Clock::now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    best = std::min(best, since(t));
  }
  return 2.0 * n * n * (double)n / best / 1e12;
}

double copy_gbps(Backend& be, MemoryKind src_kind, size_t bytes) {
  Buffer src = be.alloc(src_kind, bytes, MemoryCategory::Other);
  Buffer dst = be.alloc(MemoryKind::Device, bytes, MemoryCategory::Other);
  std::memset(src.data(), 1, bytes);
  double best = 1e30;
  for (int r = 0; r < 5; ++r) {
    const auto t = Clock::now();
    be.copy(dst.data(), src.data(), bytes);
    best = std::min(best, since(t));
  }
  return bytes / best / 1e9;
}

double disk_read_gbps(const std::string& dir, size_t blob, int n) {
  const std::string path = (std::filesystem::path(dir) / "strata-probe.bin").string();
  auto tier = make_disk_tier(path, n, blob, VerifyPolicy::Never, DiskIo::Auto,
                             [](const std::string& m) { std::fprintf(stderr, "strata: warning: %s\n", m.c_str()); });
  void* raw = nullptr;
  STRATA_USER_CHECK(posix_memalign(&raw, 4096, blob * 2) == 0, "probe: out of memory");
  std::unique_ptr<void, void (*)(void*)> buf(raw, std::free);
  std::memset(raw, 3, blob * 2);
  for (int i = 0; i < n; ++i) tier->wait(tier->write(i, raw));
  const auto t = Clock::now();
  Ticket in_flight[2] = {tier->read(0, raw), n > 1 ? tier->read(1, (char*)raw + blob) : 0};
  for (int i = 0; i < n; ++i) {
    tier->wait(in_flight[i % 2]);
    if (i + 2 < n) in_flight[i % 2] = tier->read(i + 2, (char*)raw + (i % 2) * blob);
  }
  return (double)blob * n / since(t) / 1e9;
}

}  // namespace

int run_probe(const std::string& backend_name, const std::string& disk_dir) {
  auto be = make_backend(backend_name);
  std::printf("probe: backend %s\n", be->name().c_str());
  nlohmann::json j;
  j["backend"] = be->name();
  j["gemm_tflops"] = gemm_tflops();
  std::printf("  GEMM (sgemm 1536^3):        %.3f TFLOP/s\n", j["gemm_tflops"].get<double>());
  const size_t bytes = 256u << 20;
  j["h2d_pinned_gbps"] = copy_gbps(*be, MemoryKind::HostPinned, bytes);
  j["h2d_pageable_gbps"] = copy_gbps(*be, MemoryKind::Host, bytes);
  std::printf("  host -> device, pinned:     %.2f GB/s\n  host -> device, pageable:   %.2f GB/s\n",
              j["h2d_pinned_gbps"].get<double>(), j["h2d_pageable_gbps"].get<double>());
  j["disk_read_gbps"] = disk_read_gbps(disk_dir, 16u << 20, 24);
  j["disk_dir"] = disk_dir;
  std::printf("  disk tier read (%s):  %.2f GB/s\n", disk_dir.c_str(), j["disk_read_gbps"].get<double>());
  const std::string path = probe_path();
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  write_file_atomic(path, j.dump(2) + "\n");
  std::printf("probe: wrote %s (used by `strata plan`)\n", path.c_str());
  return 0;
}

}  // namespace strata
