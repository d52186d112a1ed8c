// Tests of DeviceArena over fake address ranges (never dereferenced) and real host buffers: alignment, best fit,
// coalescing, fragmentation, bad frees, stats, a randomized run against an independent interval model, threads.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/check.h"
#include "memory/device_arena.h"

using namespace strata;

namespace {

constexpr size_t KiB = 1024, MiB = 1024 * KiB;

// A fake base address: 256-aligned but deliberately not 4 KiB-aligned, so larger alignments need padding.
void* fake_base(uintptr_t offset_from_2mib = 256) {
  return reinterpret_cast<void*>(uintptr_t{0x7f0000000000} + offset_from_2mib);
}
uintptr_t addr(const void* p) { return reinterpret_cast<uintptr_t>(p); }
size_t offset_of(const DeviceArena& a, const void* p) { return addr(p) - addr(a.base()); }

// Independent model of the arena: the live intervals only; free ranges are derived as the gaps between them.
struct IntervalModel {
  uintptr_t base;
  size_t capacity;
  std::map<size_t, size_t> live;  // offset -> rounded size

  struct Gap {
    size_t off, size;
  };
  std::vector<Gap> gaps() const {
    std::vector<Gap> g;
    size_t cur = 0;
    for (const auto& [off, size] : live) {
      if (off > cur) g.push_back({cur, off - cur});
      cur = off + size;
    }
    if (cur < capacity) g.push_back({cur, capacity - cur});
    return g;
  }
  // Where best fit must place `size` bytes aligned to `align`: the aligned start in the smallest gap that holds it
  // (lowest offset on ties), or nothing.
  std::optional<size_t> best_fit(size_t size, size_t align) const {
    std::optional<Gap> best;
    size_t best_start = 0;
    for (const Gap& g : gaps()) {
      const uintptr_t start = base + g.off;
      const uintptr_t aligned = (start + align - 1) / align * align;
      const size_t pad = aligned - start;
      if (pad > g.size || g.size - pad < size) continue;
      if (!best || g.size < best->size) {
        best = g;
        best_start = g.off + pad;
      }
    }
    if (!best) return std::nullopt;
    return best_start;
  }
  size_t used() const {
    size_t u = 0;
    for (const auto& [off, size] : live) u += size;
    return u;
  }
};

size_t round_up(size_t n, size_t m) { return (n + m - 1) / m * m; }

}  // namespace

TEST(DeviceArena, HonoursAlignment) {
  DeviceArena a(fake_base(), 64 * MiB);
  ASSERT_NE(addr(a.base()) % 4096, 0u) << "the test needs a base that is not already 4 KiB-aligned";
  for (size_t align : {size_t{256}, size_t{4096}, size_t{2} * MiB}) {
    // An odd-sized allocation first, so the next free byte is misaligned for `align`.
    void* odd = a.allocate(300, 256);
    ASSERT_NE(odd, nullptr);
    void* p = a.allocate(1000, align);
    ASSERT_NE(p, nullptr) << "alignment " << align;
    EXPECT_EQ(addr(p) % align, 0u) << "alignment " << align;
    void* q = a.allocate(5 * KiB, align);
    ASSERT_NE(q, nullptr);
    EXPECT_EQ(addr(q) % align, 0u) << "alignment " << align;
  }
  // Alignments below the granularity still give 256-byte aligned blocks; padding is not counted as used.
  DeviceArena b(fake_base(), 1 * MiB);
  void* p1 = b.allocate(1, 1);
  void* p2 = b.allocate(1, 16);
  ASSERT_NE(p1, nullptr);
  ASSERT_NE(p2, nullptr);
  EXPECT_EQ(addr(p1) % 256, 0u);
  EXPECT_EQ(addr(p2) % 256, 0u);
  EXPECT_EQ(addr(p2) - addr(p1), 256u);
  EXPECT_EQ(b.used(), 512u);
  void* p3 = b.allocate(256, 4096);
  ASSERT_NE(p3, nullptr);
  EXPECT_EQ(b.used(), 768u);
  EXPECT_EQ(b.free_ranges(), 2u) << "the padding before the 4 KiB-aligned block stays a free range";
}

TEST(DeviceArena, ZeroBytesAndBadAlignment) {
  DeviceArena a(fake_base(), 1 * MiB);
  EXPECT_EQ(a.allocate(0, 256), nullptr);
  EXPECT_EQ(a.used(), 0u);
  EXPECT_THROW(a.allocate(256, 3), StrataError);
  EXPECT_THROW(a.allocate(256, 0), StrataError);
  EXPECT_EQ(a.live_allocations(), 0u);
}

TEST(DeviceArena, RejectsBadRanges) {
  EXPECT_THROW(DeviceArena(reinterpret_cast<void*>(uintptr_t{0x1000} + 8), 1 * MiB), StrataError);
  EXPECT_THROW(DeviceArena(fake_base(), 1 * MiB + 1), StrataError);
  DeviceArena empty(fake_base(), 0);
  EXPECT_EQ(empty.allocate(1, 256), nullptr);
  EXPECT_EQ(empty.largest_free(), 0u);
  EXPECT_EQ(empty.free_ranges(), 0u);
}

TEST(DeviceArena, ExactCapacityFitsAndOneByteMoreDoesNot) {
  DeviceArena a(fake_base(0), 8 * MiB);
  EXPECT_EQ(a.allocate(8 * MiB + 1, 256), nullptr);
  EXPECT_EQ(a.used(), 0u);
  void* p = a.allocate(8 * MiB, 256);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p, a.base());
  EXPECT_EQ(a.used(), 8 * MiB);
  EXPECT_EQ(a.largest_free(), 0u);
  EXPECT_EQ(a.free_ranges(), 0u);
  EXPECT_EQ(a.allocate(1, 256), nullptr) << "a full arena must refuse even one byte";
  a.free(p);
  EXPECT_EQ(a.largest_free(), 8 * MiB);
  EXPECT_EQ(a.free_ranges(), 1u);
}

TEST(DeviceArena, FreeingEverythingCoalescesToOneRange) {
  DeviceArena a(fake_base(), 16 * MiB);
  std::mt19937_64 rng(7);
  std::vector<void*> ps;
  for (int i = 0; i < 200; ++i) {
    void* p = a.allocate(1 + rng() % (40 * KiB), size_t{256} << (rng() % 5));
    ASSERT_NE(p, nullptr);
    ps.push_back(p);
  }
  EXPECT_GT(a.used(), 0u);
  std::shuffle(ps.begin(), ps.end(), rng);
  for (void* p : ps) a.free(p);
  EXPECT_EQ(a.used(), 0u);
  EXPECT_EQ(a.live_allocations(), 0u);
  EXPECT_EQ(a.free_ranges(), 1u);
  EXPECT_EQ(a.largest_free(), a.capacity());
  // And the whole range is usable again in one piece.
  void* all = a.allocate(a.capacity(), 256);
  EXPECT_EQ(all, a.base());
}

TEST(DeviceArena, CoalescesWithBothNeighbours) {
  DeviceArena a(fake_base(0), 4 * MiB);
  void* x = a.allocate(1 * MiB, 256);
  void* y = a.allocate(1 * MiB, 256);
  void* z = a.allocate(1 * MiB, 256);
  ASSERT_TRUE(x && y && z);
  EXPECT_EQ(a.free_ranges(), 1u);  // the 1 MiB tail
  a.free(x);
  EXPECT_EQ(a.free_ranges(), 2u);
  a.free(z);  // merges with the tail
  EXPECT_EQ(a.free_ranges(), 2u);
  EXPECT_EQ(a.largest_free(), 2 * MiB);
  a.free(y);  // merges with both sides
  EXPECT_EQ(a.free_ranges(), 1u);
  EXPECT_EQ(a.largest_free(), 4 * MiB);
}

TEST(DeviceArena, FragmentationRefusesWhatNoSingleRangeHolds) {
  DeviceArena a(fake_base(0), 4 * MiB);
  void* blocks[4];
  for (auto& b : blocks) {
    b = a.allocate(1 * MiB, 256);
    ASSERT_NE(b, nullptr);
  }
  a.free(blocks[0]);
  a.free(blocks[2]);
  EXPECT_EQ(a.capacity() - a.used(), 2 * MiB);
  EXPECT_EQ(a.largest_free(), 1 * MiB);
  EXPECT_EQ(a.free_ranges(), 2u);
  EXPECT_EQ(a.allocate(a.largest_free() + 1, 256), nullptr) << "2 MiB are free in total, but not in one range";
  EXPECT_EQ(a.allocate(2 * MiB, 256), nullptr);
  EXPECT_EQ(a.used(), 2 * MiB) << "a refused request must not change the arena";
  EXPECT_NE(a.allocate(1 * MiB, 256), nullptr);
}

TEST(DeviceArena, BestFitPicksTheSmallestHole) {
  DeviceArena a(fake_base(0), 16 * MiB);
  // Layout: [A 3 MiB][sep][C 1 MiB][sep][E 2 MiB][sep][tail 8 MiB + ...]
  void* A = a.allocate(3 * MiB, 256);
  void* s1 = a.allocate(256 * KiB, 256);
  void* C = a.allocate(1 * MiB, 256);
  void* s2 = a.allocate(256 * KiB, 256);
  void* E = a.allocate(2 * MiB, 256);
  void* s3 = a.allocate(256 * KiB, 256);
  ASSERT_TRUE(A && s1 && C && s2 && E && s3);
  a.free(A);
  a.free(C);
  a.free(E);
  EXPECT_EQ(a.free_ranges(), 4u);
  // 1.5 MiB fits in A (3), E (2) and the tail: E is the smallest that holds it.
  EXPECT_EQ(a.allocate(1536 * KiB, 256), E);
  // 1 MiB: C is an exact fit.
  EXPECT_EQ(a.allocate(1 * MiB, 256), C);
  // 512 KiB: the 512 KiB left after the block placed in E.
  EXPECT_EQ(addr(a.allocate(512 * KiB, 256)), addr(E) + 1536 * KiB);
  // 2 MiB: only A (3 MiB) and the tail remain; A is smaller.
  EXPECT_EQ(a.allocate(2 * MiB, 256), A);
  EXPECT_EQ(a.free_ranges(), 2u);
}

TEST(DeviceArena, BadFreesThrowNamingThePointer) {
  DeviceArena a(fake_base(0), 4 * MiB);
  void* p = a.allocate(1 * MiB, 256);
  void* q = a.allocate(1 * MiB, 256);
  ASSERT_TRUE(p && q);
  a.free(p);
  const size_t used = a.used();
  auto message_of = [&](void* bad) -> std::string {
    try {
      a.free(bad);
    } catch (const StrataError& e) {
      return e.what();
    }
    return "";
  };
  char hex[32];
  std::snprintf(hex, sizeof hex, "0x%llx", static_cast<unsigned long long>(addr(p)));
  const std::string twice = message_of(p);
  EXPECT_NE(twice.find(hex), std::string::npos) << twice;
  EXPECT_NE(twice.find("not a live allocation"), std::string::npos) << twice;
  EXPECT_NE(twice.find("0x7f0000000000"), std::string::npos) << "names the arena range: " << twice;

  int on_stack = 0;
  const std::string foreign = message_of(&on_stack);
  std::snprintf(hex, sizeof hex, "0x%llx", static_cast<unsigned long long>(addr(&on_stack)));
  EXPECT_NE(foreign.find(hex), std::string::npos) << foreign;

  void* interior = reinterpret_cast<void*>(addr(q) + 256);
  EXPECT_NE(message_of(interior), "") << "a pointer into the middle of an allocation is not freeable";
  void* past_end = reinterpret_cast<void*>(addr(a.base()) + a.capacity());
  EXPECT_NE(message_of(past_end), "");

  EXPECT_EQ(a.used(), used) << "a refused free must not change the arena";
  EXPECT_EQ(a.live_allocations(), 1u);
  a.free(nullptr);  // no-op
  a.free(q);
  EXPECT_EQ(a.used(), 0u);
}

TEST(DeviceArena, TracksPeakAndDescribes) {
  DeviceArena a(fake_base(0), 4 * MiB);
  EXPECT_EQ(a.describe(), "arena 4.0 MiB: 0 B used (peak 0 B), largest free range 4.0 MiB in 1 range");
  void* p1 = a.allocate(1 * MiB, 256);
  void* p2 = a.allocate(2 * MiB, 256);
  ASSERT_TRUE(p1 && p2);
  EXPECT_EQ(a.peak_used(), 3 * MiB);
  a.free(p2);
  EXPECT_EQ(a.used(), 1 * MiB);
  EXPECT_EQ(a.peak_used(), 3 * MiB);
  void* p3 = a.allocate(512 * KiB, 256);
  ASSERT_NE(p3, nullptr);
  EXPECT_EQ(a.used(), 1536 * KiB);
  EXPECT_EQ(a.peak_used(), 3 * MiB);
  a.free(p1);
  EXPECT_EQ(a.describe(), "arena 4.0 MiB: 512.0 KiB used (peak 3.0 MiB), largest free range 2.5 MiB in 2 ranges");
}

// Several thousand random allocations and frees, each checked against the interval model: exact best-fit placement,
// alignment, inside the range, no overlap, and identical stats; a refusal only when the model has no fitting gap.
TEST(DeviceArena, RandomizedAgainstIntervalModel) {
  for (uint64_t seed : {1ull, 2ull, 3ull}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    const size_t capacity = 32 * MiB;
    DeviceArena a(fake_base(256 * (1 + seed)), capacity);
    IntervalModel m{addr(a.base()), capacity, {}};
    std::mt19937_64 rng(seed);
    std::vector<void*> live;
    size_t refusals = 0, peak = 0;
    const size_t aligns[] = {1, 256, 512, 4096, 64 * KiB, 2 * MiB};
    for (int op = 0; op < 6000; ++op) {
      const bool do_alloc = live.empty() || rng() % 100 < 55;
      if (do_alloc) {
        const size_t bytes = rng() % 10 == 0 ? 1 + rng() % (4 * MiB) : 1 + rng() % (96 * KiB);
        const size_t align = aligns[rng() % std::size(aligns)];
        const size_t size = round_up(bytes, 256);
        const std::optional<size_t> want = m.best_fit(size, std::max<size_t>(align, 256));
        void* p = a.allocate(bytes, align);
        if (!want) {
          ASSERT_EQ(p, nullptr) << "op " << op << ": the model has no gap for " << size << " bytes";
          ++refusals;
          continue;
        }
        ASSERT_NE(p, nullptr) << "op " << op << ": refused " << size << " bytes aligned " << align
                              << " although the model has a gap";
        const size_t off = offset_of(a, p);
        ASSERT_EQ(off, *want) << "op " << op << ": not the best fit";
        ASSERT_EQ(addr(p) % std::max<size_t>(align, 256), 0u);
        ASSERT_LE(off + size, capacity) << "outside the range";
        // No overlap with the model's neighbours.
        auto next = m.live.lower_bound(off);
        if (next != m.live.end()) {
          ASSERT_LE(off + size, next->first) << "overlaps the next live block";
        }
        if (next != m.live.begin()) {
          auto prev = std::prev(next);
          ASSERT_LE(prev->first + prev->second, off) << "overlaps the previous live block";
        }
        m.live.emplace(off, size);
        live.push_back(p);
      } else {
        const size_t i = rng() % live.size();
        void* p = live[i];
        live[i] = live.back();
        live.pop_back();
        a.free(p);
        ASSERT_EQ(m.live.erase(offset_of(a, p)), 1u);
      }
      const auto gaps = m.gaps();
      size_t largest = 0;
      for (const auto& g : gaps) largest = std::max(largest, g.size);
      peak = std::max(peak, m.used());
      ASSERT_EQ(a.used(), m.used()) << "op " << op;
      ASSERT_EQ(a.free_ranges(), gaps.size()) << "op " << op << ": free ranges must be fully coalesced";
      ASSERT_EQ(a.largest_free(), largest) << "op " << op;
      ASSERT_EQ(a.peak_used(), peak) << "op " << op;
      ASSERT_EQ(a.live_allocations(), m.live.size());
    }
    EXPECT_GT(refusals, 0u) << "the run should reach full/fragmented states";
    for (void* p : live) a.free(p);
    EXPECT_EQ(a.used(), 0u);
    EXPECT_EQ(a.free_ranges(), 1u);
    EXPECT_EQ(a.largest_free(), capacity);
  }
}

// Threads allocate from one arena over a real host buffer, fill their blocks with a tag and check it before freeing:
// any overlap between live blocks (or a lost update of the arena's maps) shows up as a clobbered tag.
TEST(DeviceArena, ConcurrentThreadsOverARealBuffer) {
  const size_t capacity = 8 * MiB;
  std::unique_ptr<unsigned char[]> storage(new unsigned char[capacity + 4096]);
  void* base = reinterpret_cast<void*>(round_up(addr(storage.get()), 4096));
  DeviceArena a(base, capacity);
  std::vector<std::thread> threads;
  std::vector<int> bad(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(100 + t);
      struct Block {
        unsigned char* p;
        size_t bytes;
        unsigned char tag;
      };
      std::vector<Block> mine;
      for (int op = 0; op < 20000; ++op) {
        if (mine.empty() || rng() % 2 == 0) {
          const size_t bytes = 1 + rng() % (4 * KiB);
          auto* p = static_cast<unsigned char*>(a.allocate(bytes, 256));
          if (!p) continue;
          const auto tag = static_cast<unsigned char>(1 + t * 50 + op % 50);
          std::memset(p, tag, bytes);
          mine.push_back({p, bytes, tag});
        } else {
          const size_t i = rng() % mine.size();
          const auto [p, bytes, tag] = mine[i];
          for (size_t k = 0; k < bytes; ++k)
            if (p[k] != tag) {
              ++bad[t];
              break;
            }
          a.free(p);
          mine[i] = mine.back();
          mine.pop_back();
        }
      }
      for (const Block& b : mine) a.free(b.p);
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(bad[t], 0) << "thread " << t << " found its block overwritten";
  EXPECT_EQ(a.used(), 0u);
  EXPECT_EQ(a.free_ranges(), 1u);
  EXPECT_GT(a.peak_used(), 0u);
}
