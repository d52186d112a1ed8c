// Implements progress_line.h: the throttle, the byte units (decimal KB/MB/GB chosen from the total) and the
// M:SS / H:MM:SS durations of the ETA and the final line.
#include "core/progress_line.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <utility>

namespace strata {

namespace {

std::string duration(double s) {
  const long t = std::isfinite(s) && s > 0 ? std::lround(s) : 0;
  char b[32];
  if (t >= 3600) std::snprintf(b, sizeof b, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
  else std::snprintf(b, sizeof b, "%ld:%02ld", t / 60, t % 60);
  return b;
}

}  // namespace

double ProgressLine::steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

ProgressLine::Sink ProgressLine::to_file(std::FILE* f, std::string prefix) {
  return [f, prefix = std::move(prefix)](const std::string& line) {
    std::fprintf(f, "%s%s\n", prefix.c_str(), line.c_str());
    std::fflush(f);
  };
}

ProgressLine::ProgressLine(std::string label, size_t total_items, size_t total_bytes, Sink sink, Clock clock,
                           double interval_s)
    : label_(std::move(label)),
      total_items_(total_items),
      total_bytes_(total_bytes),
      sink_(std::move(sink)),
      clock_(clock ? std::move(clock) : Clock(steady_seconds)),
      interval_s_(interval_s) {
  if (sink_) start_ = last_ = clock_();
}

void ProgressLine::advance(size_t items, size_t bytes) {
  items_ += items;
  bytes_ += bytes;
  if (!sink_ || finished_) return;
  const double now = clock_();
  if (now - last_ < interval_s_) return;
  last_ = now;
  wrote_ = true;
  sink_(format(now, false));
}

void ProgressLine::finish() {
  if (!sink_ || finished_) return;
  finished_ = true;
  const double now = clock_();
  if (wrote_ || now - start_ >= interval_s_) sink_(format(now, true));
}

std::string ProgressLine::format(double now, bool final) const {
  const double elapsed = now - start_;
  std::string s = label_ + ": " + std::to_string(items_) + "/" + std::to_string(total_items_);
  // Progress as a fraction of the bytes when they are counted, else of the items; the ETA assumes a steady rate.
  double fraction = total_items_ ? (double)items_ / (double)total_items_ : 1.0;
  if (total_bytes_ > 0) {
    const double unit = total_bytes_ >= 1e9 ? 1e9 : total_bytes_ >= 1e6 ? 1e6 : 1e3;
    const char* name = unit == 1e9 ? "GB" : unit == 1e6 ? "MB" : "KB";
    char b[96];
    std::snprintf(b, sizeof b, " | %.1f/%.1f %s", (double)bytes_ / unit, (double)total_bytes_ / unit, name);
    s += b;
    if (elapsed > 0) std::snprintf(b, sizeof b, " | %.2f %s/s", (double)bytes_ / unit / elapsed, name);
    else std::snprintf(b, sizeof b, " | -- %s/s", name);
    s += b;
    fraction = (double)bytes_ / (double)total_bytes_;
  }
  if (final) return s + " | done in " + duration(elapsed);
  if (fraction <= 0 || elapsed <= 0) return s + " | ETA --";
  return s + " | ETA " + duration(elapsed * (1.0 - std::min(fraction, 1.0)) / fraction);
}

}  // namespace strata
