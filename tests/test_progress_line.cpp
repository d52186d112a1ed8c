// Tests of core/progress_line.h on a fake clock: the line's format (items, bytes in decimal units, rate, ETA,
// H:MM:SS), the throttle (at most one line per interval), the final line, quick work staying silent, a null sink.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/progress_line.h"

namespace strata {
namespace {

struct FakeRun {
  double now = 100.0;  // the clock's origin is arbitrary: only differences count
  std::vector<std::string> lines;
  ProgressLine make(const std::string& label, size_t items, size_t bytes) {
    return ProgressLine(label, items, bytes, [this](const std::string& l) { lines.push_back(l); },
                        [this] { return now; });
  }
};

TEST(ProgressLine, FormatsItemsBytesRateAndEta) {
  FakeRun run;
  ProgressLine p = run.make("placing blocks", 32, 12'900'000'000);
  run.now += 9.2;
  p.advance(12, 4'800'000'000);
  ASSERT_EQ(run.lines.size(), 1u);
  // 4.8 GB in 9.2 s = 0.52 GB/s; 8.1 GB left at that rate = 15.5 s.
  EXPECT_EQ(run.lines[0], "placing blocks: 12/32 | 4.8/12.9 GB | 0.52 GB/s | ETA 0:16");
  EXPECT_EQ(p.format(run.now + 4000, false).substr(0, 22), "placing blocks: 12/32 ");
  EXPECT_NE(p.format(run.now + 3 * 3600, false).find("ETA 5:"), std::string::npos) << "hours as H:MM:SS";
}

TEST(ProgressLine, AtMostOneLinePerIntervalAndAFinalOne) {
  FakeRun run;
  ProgressLine p = run.make("writing tensors", 4, 4'000'000);
  run.now += 0.5;
  p.advance(1, 1'000'000);
  EXPECT_TRUE(run.lines.empty()) << "no line before the first interval";
  run.now += 1.5;  // 2.0 s
  p.advance(1, 1'000'000);
  ASSERT_EQ(run.lines.size(), 1u);
  EXPECT_EQ(run.lines[0], "writing tensors: 2/4 | 2.0/4.0 MB | 1.00 MB/s | ETA 0:02");
  run.now += 1.9;  // 3.9 s: within the interval since the last line
  p.advance(1, 1'000'000);
  EXPECT_EQ(run.lines.size(), 1u);
  run.now += 0.1;  // 4.0 s
  p.advance(0, 0);
  ASSERT_EQ(run.lines.size(), 2u);
  EXPECT_EQ(run.lines[1], "writing tensors: 3/4 | 3.0/4.0 MB | 0.75 MB/s | ETA 0:01");
  run.now += 1.0;
  p.advance(1, 1'000'000);
  p.finish();
  ASSERT_EQ(run.lines.size(), 3u);
  EXPECT_EQ(run.lines[2], "writing tensors: 4/4 | 4.0/4.0 MB | 0.80 MB/s | done in 0:05");
  p.finish();
  p.advance(1, 1);
  EXPECT_EQ(run.lines.size(), 3u) << "finish() writes once; nothing after it";
}

TEST(ProgressLine, QuickWorkStaysSilentSlowWorkGetsAFinalLine) {
  FakeRun quick;
  ProgressLine q = quick.make("placing blocks", 2, 2000);
  quick.now += 1.0;
  q.advance(2, 2000);
  q.finish();
  EXPECT_TRUE(quick.lines.empty());

  FakeRun slow;  // one long step, no line on the way: the final line still reports it
  ProgressLine s = slow.make("placing blocks", 1, 0);
  slow.now += 3725;
  s.advance(1, 0);
  ASSERT_EQ(slow.lines.size(), 1u);
  EXPECT_EQ(slow.lines[0], "placing blocks: 1/1 | ETA 0:00");
  s.finish();
  ASSERT_EQ(slow.lines.size(), 2u);
  EXPECT_EQ(slow.lines[1], "placing blocks: 1/1 | done in 1:02:05") << "no bytes counted: no bytes or rate";
}

TEST(ProgressLine, NullSinkDoesNothing) {
  ProgressLine p("x", 3, 3, nullptr);
  p.advance(1, 1);
  p.finish();
  EXPECT_EQ(p.format(0, true).substr(0, 6), "x: 1/3") << "the counts are still kept for format()";
}

}  // namespace
}  // namespace strata
