// Profiler implementation: span and memory-sample recording (memory samples coalesced to one per kCoalesceUs), and
// the Chrome trace event writer (complete events per track, one stacked counter per tier, write_file_atomic).
#include "memory/profiler.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/check.h"

namespace strata {

namespace {

// The tracks a training run uses, in display order; any other track follows in order of first use.
constexpr const char* kTrackOrder[] = {"train", "compute", "optimizer", "io"};

double round_us(double us) { return std::isfinite(us) ? std::round(us * 1000.0) / 1000.0 : 0.0; }

// Spans of one track that overlap without nesting (several reads in flight) cannot share a thread: Perfetto and
// chrome://tracing need the complete events of a thread to nest. Each track gets as many lanes (threads) as it
// needs, placed greedily; the known tracks come first, then the others as they first appear.
struct Lanes {
  std::vector<int> tid_of_span;                      // parallel to the (sorted) spans
  std::vector<std::pair<std::string, int>> threads;  // thread name, tid
};

Lanes assign_lanes(const std::vector<TraceSpan>& spans, const std::vector<double>& ends) {
  std::vector<std::string> tracks;
  for (const char* t : kTrackOrder)
    for (const TraceSpan& s : spans)
      if (s.track == t) {
        tracks.push_back(t);
        break;
      }
  for (const TraceSpan& s : spans)
    if (std::find(tracks.begin(), tracks.end(), s.track) == tracks.end()) tracks.push_back(s.track);
  Lanes out;
  out.tid_of_span.assign(spans.size(), 0);
  int next_tid = 1;
  for (const std::string& track : tracks) {
    std::vector<std::vector<double>> open;  // per lane: end times of the spans still open, innermost last
    for (size_t i = 0; i < spans.size(); ++i) {
      if (spans[i].track != track) continue;
      const double start = round_us(spans[i].start_us);
      size_t lane = 0;
      for (; lane < open.size(); ++lane) {
        auto& stack = open[lane];
        while (!stack.empty() && stack.back() <= start) stack.pop_back();
        if (stack.empty() || ends[i] <= stack.back()) break;
      }
      if (lane == open.size()) open.emplace_back();
      open[lane].push_back(ends[i]);
      out.tid_of_span[i] = next_tid + (int)lane;
    }
    for (size_t lane = 0; lane < open.size(); ++lane)
      out.threads.emplace_back(lane == 0 ? track : track + " (" + std::to_string(lane + 1) + ")", next_tid + (int)lane);
    next_tid += (int)open.size();
  }
  return out;
}

nlohmann::json metadata_event(const char* name, int tid, const nlohmann::json& args) {
  return {{"name", name}, {"ph", "M"}, {"ts", 0}, {"pid", 1}, {"tid", tid}, {"args", args}};
}

nlohmann::json peaks_json(const MemorySnapshot& peaks) {
  nlohmann::json out = nlohmann::json::object();
  for (int k = 0; k < kNumMemoryKinds; ++k) {
    if (peaks.kind_peak[k] == 0) continue;
    nlohmann::json cats = nlohmann::json::object();
    for (int c = 0; c < kNumMemoryCategories; ++c)
      if (peaks.peak[k][c] > 0) cats[to_string(static_cast<MemoryCategory>(c))] = peaks.peak[k][c];
    out[to_string(static_cast<MemoryKind>(k))] = {{"total", peaks.kind_peak[k]}, {"categories", cats}};
  }
  return out;
}

}  // namespace

Profiler::Profiler(bool enabled) : enabled_(enabled), t0_(std::chrono::steady_clock::now()) {}

double Profiler::now_us() const {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0_).count();
}

Profiler::Scope::Scope(Profiler* p, const char* name, const char* track, int layer)
    : p_(p && p->enabled() ? p : nullptr), name_(name), track_(track), layer_(layer), start_(p_ ? p_->now_us() : 0) {}

Profiler::Scope::~Scope() {
  if (p_) p_->record(name_, track_, layer_, start_, p_->now_us() - start_);
}

void Profiler::record(const char* name, const char* track, int layer, double start_us, double dur_us) {
  if (!enabled_) return;
  TraceSpan s{name, track, layer, step_.load(std::memory_order_relaxed), start_us, std::max(0.0, dur_us)};
  std::lock_guard lock(mu_);
  spans_.push_back(std::move(s));
}

void Profiler::sample_memory(const MemorySnapshot& snap) {
  if (!enabled_) return;
  const double t = now_us();
  std::lock_guard lock(mu_);
  for (int k = 0; k < kNumMemoryKinds; ++k) {
    observed_peak_.kind_peak[k] = std::max(observed_peak_.kind_peak[k], snap.kind_current[k]);
    for (int c = 0; c < kNumMemoryCategories; ++c)
      observed_peak_.peak[k][c] = std::max(observed_peak_.peak[k][c], snap.current[k][c]);
  }
  const size_t n = memory_.size();
  if (n >= 2 && t - memory_[n - 2].t_us < kCoalesceUs)
    memory_.back() = MemorySample{t, snap};  // the latest state within the window replaces the previous one
  else
    memory_.push_back(MemorySample{t, snap});
}

MemorySnapshot Profiler::observed_peaks() const {
  std::lock_guard lock(mu_);
  return observed_peak_;
}

void Profiler::write_trace(const std::string& path) const {
  std::vector<TraceSpan> spans;
  std::vector<MemorySample> memory;
  MemorySnapshot peaks;
  {
    std::lock_guard lock(mu_);
    spans = spans_;
    memory = memory_;
    peaks = observed_peak_;
  }
  // Parents before children on equal start times, so legacy viewers nest them.
  std::stable_sort(spans.begin(), spans.end(), [](const TraceSpan& a, const TraceSpan& b) {
    return a.start_us != b.start_us ? a.start_us < b.start_us : a.dur_us > b.dur_us;
  });
  // Ends are rounded, not durations, so a child never ends after its parent once written.
  std::vector<double> ends(spans.size());
  for (size_t i = 0; i < spans.size(); ++i) ends[i] = round_us(spans[i].start_us + spans[i].dur_us);
  const Lanes lanes = assign_lanes(spans, ends);

  std::vector<nlohmann::json> events;
  events.push_back(metadata_event("process_name", 0, {{"name", "strata"}}));
  for (const auto& [name, tid] : lanes.threads) {
    events.push_back(metadata_event("thread_name", tid, {{"name", name}}));
    events.push_back(metadata_event("thread_sort_index", tid, {{"sort_index", tid}}));
  }
  for (size_t i = 0; i < spans.size(); ++i) {
    const TraceSpan& s = spans[i];
    const double ts = round_us(s.start_us);
    nlohmann::json args = {{"step", s.step}};
    if (s.layer >= 0) args["layer"] = s.layer;
    events.push_back({{"name", s.name},
                      {"cat", s.track},
                      {"ph", "X"},
                      {"ts", ts},
                      {"dur", round_us(std::max(0.0, ends[i] - ts))},
                      {"pid", 1},
                      {"tid", lanes.tid_of_span[i]},
                      {"args", args}});
  }
  // One counter per tier that ever held bytes, with a series for each category that ever did; an event only when
  // a value changed, so flat stretches cost nothing.
  for (int k = 0; k < kNumMemoryKinds; ++k) {
    if (peaks.kind_peak[k] == 0) continue;
    const std::string counter = std::string(to_string(static_cast<MemoryKind>(k))) + " bytes";
    const MemorySample* last = nullptr;
    for (const MemorySample& m : memory) {
      bool changed = last == nullptr;
      for (int c = 0; c < kNumMemoryCategories && !changed; ++c) changed = m.snap.current[k][c] != last->snap.current[k][c];
      if (!changed) continue;
      last = &m;
      nlohmann::json args = nlohmann::json::object();
      for (int c = 0; c < kNumMemoryCategories; ++c)
        if (peaks.peak[k][c] > 0) args[to_string(static_cast<MemoryCategory>(c))] = m.snap.current[k][c];
      events.push_back(
          {{"name", counter}, {"ph", "C"}, {"ts", round_us(m.t_us)}, {"pid", 1}, {"tid", 0}, {"args", args}});
    }
  }

  const nlohmann::json meta = {{"strata", {{"version", STRATA_VERSION},
                                           {"spans", spans.size()},
                                           {"memory_samples", memory.size()},
                                           {"coalesce_us", kCoalesceUs},
                                           {"memory_peaks", peaks_json(peaks)}}}};
  std::string text = "{\"displayTimeUnit\":\"ms\",\"metadata\":" + meta.dump() + ",\n\"traceEvents\":[\n";
  for (size_t i = 0; i < events.size(); ++i) text += events[i].dump() + (i + 1 < events.size() ? ",\n" : "\n");
  text += "]}\n";
  write_file_atomic(path, text);
}

}  // namespace strata
