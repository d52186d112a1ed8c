// Reading a run folder for the report: metrics.jsonl line by line, the Chrome trace's counters, spans and
// strata metadata, plan.json and config.toml. Every reader is lenient: what it cannot use becomes a note.
#include "report/run_data.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include "core/check.h"
#include "core/byte_size.h"

namespace strata {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double num(const json& j, const char* key, double fallback = kNaN) {
  if (!j.is_object()) return fallback;
  const auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : fallback;
}

// Categories in the tracker's order (memory/memory_kind.h); unknown names after them, alphabetically.
int category_rank(const std::string& c) {
  static const char* kOrder[] = {"weights",     "master_weights", "grads",     "optimizer_state",
                                 "activations", "workspace",      "streaming", "kv_cache", "other"};
  for (int i = 0; i < 9; ++i)
    if (c == kOrder[i]) return i;
  return 9;
}

bool read_json_file(const fs::path& path, json& out, std::vector<std::string>& notes) {
  std::ifstream in(path);
  if (!in) {
    notes.push_back(path.filename().string() + " could not be opened");
    return false;
  }
  out = json::parse(in, nullptr, false);
  if (out.is_discarded() || !out.is_object()) {
    notes.push_back(path.filename().string() + " is not a JSON object; its part of the report is left out");
    return false;
  }
  return true;
}

void load_metrics(const fs::path& path, RunData& d) {
  std::ifstream in(path);
  if (!in) {
    d.notes.push_back("metrics.jsonl is missing: no per-step charts");
    return;
  }
  std::string line;
  size_t bad = 0;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("step") || !j["step"].is_number()) {
      ++bad;
      continue;
    }
    const int step = j["step"].get<int>();
    if (j.contains("samples") && j["samples"].is_array()) {
      for (const json& s : j["samples"])
        if (s.is_object() && s.contains("prompt") && s["prompt"].is_string() && s.contains("text") &&
            s["text"].is_string())
          d.samples.push_back({step, s["prompt"].get<std::string>(), s["text"].get<std::string>()});
      continue;
    }
    if (j.contains("eval_loss")) {
      d.evals.push_back({step, num(j, "eval_loss"), num(j, "eval_perplexity")});
      continue;
    }
    StepRecord r;
    r.step = step;
    r.loss = num(j, "loss");
    r.tokens = num(j, "tokens", 0);
    r.seconds = num(j, "seconds", 0);
    const json& io = j.contains("io") ? j["io"] : json();
    r.io_wait_seconds = num(io, "io_wait_seconds", 0);
    r.read_bytes = num(io, "host_read_bytes", 0) + num(io, "disk_read_bytes", 0);
    r.write_bytes = num(io, "host_write_bytes", 0) + num(io, "disk_write_bytes", 0);
    const json& mem = j.contains("memory") ? j["memory"] : json();
    r.device = num(mem, "device", 0);
    r.device_peak = num(mem, "device_peak", r.device);
    r.host_pinned = num(mem, "host_pinned", 0);
    r.host = num(mem, "host", 0);
    d.steps.push_back(r);
  }
  if (bad > 0) d.notes.push_back("metrics.jsonl: " + std::to_string(bad) + " line(s) could not be read and were skipped");
}

using Samples = std::map<std::string, std::vector<std::pair<double, std::map<std::string, double>>>>;

// The trace's time span in microseconds (t0, t1) and the names of its threads (tracks).
std::pair<double, double> trace_span(const json& events, std::map<int, std::string>& thread_names) {
  double t0 = std::numeric_limits<double>::infinity(), t1 = -t0;
  for (const json& e : events) {
    if (!e.is_object() || !e.contains("ph") || !e["ph"].is_string()) continue;
    if (e["ph"] == "M") {
      if (e.value("name", "") == "thread_name" && e.contains("args") && e["args"].contains("name") &&
          e["args"]["name"].is_string())
        thread_names[(int)num(e, "tid", 0)] = e["args"]["name"].get<std::string>();
      continue;
    }
    const double ts = num(e, "ts");
    if (!std::isfinite(ts)) continue;
    t0 = std::min(t0, ts);
    t1 = std::max(t1, ts + std::max(0.0, num(e, "dur", 0)));
  }
  if (!std::isfinite(t0)) t0 = t1 = 0;
  return {t0, t1};
}

// Memory counter samples per tier ("C" events named "<tier> bytes") and span totals per (name, track) ("X" events).
void collect_events(const json& events, double t0, std::map<int, std::string>& thread_names, Samples& samples,
                    std::map<std::pair<std::string, std::string>, SpanTotal>& spans) {
  for (const json& e : events) {
    if (!e.is_object() || !e.contains("ph") || !e["ph"].is_string() || !e.contains("name") || !e["name"].is_string())
      continue;
    const std::string ph = e["ph"], name = e["name"];
    const double ts = num(e, "ts");
    if (!std::isfinite(ts)) continue;
    if (ph == "C" && name.size() > 6 && name.ends_with(" bytes") && e.contains("args") && e["args"].is_object()) {
      std::map<std::string, double> values;
      for (const auto& [cat, v] : e["args"].items())
        if (v.is_number()) values[cat] = std::max(0.0, v.get<double>());
      samples[name.substr(0, name.size() - 6)].emplace_back((ts - t0) / 1e6, std::move(values));
    } else if (ph == "X") {
      std::string track = e.contains("cat") && e["cat"].is_string() ? e["cat"].get<std::string>() : "";
      if (track.empty()) track = thread_names[(int)num(e, "tid", 0)];
      SpanTotal& s = spans[{name, track}];
      s.name = name;
      s.track = track;
      ++s.count;
      s.seconds += std::max(0.0, num(e, "dur", 0)) / 1e6;
    }
  }
}

// One stacked series per tier, in time order, categories in the report's order; tiers in the report's order.
std::vector<MemoryCounter> counters_of(Samples& samples) {
  std::vector<MemoryCounter> out;
  for (auto& [tier, list] : samples) {
    std::stable_sort(list.begin(), list.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    MemoryCounter c;
    c.tier = tier;
    for (const auto& s : list)
      for (const auto& [cat, v] : s.second)
        if (std::find(c.categories.begin(), c.categories.end(), cat) == c.categories.end()) c.categories.push_back(cat);
    std::sort(c.categories.begin(), c.categories.end(), category_less);
    for (const auto& [t, values] : list) {
      c.t.push_back(t);
      std::vector<double> row;
      for (const std::string& cat : c.categories) row.push_back(values.count(cat) ? values.at(cat) : 0.0);
      c.bytes.push_back(std::move(row));
    }
    out.push_back(std::move(c));
  }
  std::sort(out.begin(), out.end(), [](const MemoryCounter& a, const MemoryCounter& b) {
    const auto& tiers = report_tiers();
    const auto ia = std::find(tiers.begin(), tiers.end(), a.tier), ib = std::find(tiers.begin(), tiers.end(), b.tier);
    return ia != ib ? ia < ib : a.tier < b.tier;
  });
  return out;
}

// Exact peaks from the profiler (every sample, before coalescing); otherwise the maxima over the counters.
void measure_peaks(const json& trace, RunData& d) {
  const json* peaks = nullptr;
  if (trace.contains("metadata") && trace["metadata"].is_object() && trace["metadata"].contains("strata") &&
      trace["metadata"]["strata"].is_object() && trace["metadata"]["strata"].contains("memory_peaks") &&
      trace["metadata"]["strata"]["memory_peaks"].is_object())
    peaks = &trace["metadata"]["strata"]["memory_peaks"];
  if (peaks) {
    for (const auto& [tier, p] : peaks->items()) {
      TierPeak tp;
      tp.total = num(p, "total", 0);
      if (p.contains("categories") && p["categories"].is_object())
        for (const auto& [cat, v] : p["categories"].items())
          if (v.is_number()) tp.categories[cat] = v.get<double>();
      d.measured[tier] = tp;
    }
  }
  for (const MemoryCounter& c : d.counters) {
    if (peaks && peaks->contains(c.tier)) continue;
    TierPeak tp;
    for (const auto& row : c.bytes) {
      double total = 0;
      for (size_t i = 0; i < row.size(); ++i) {
        tp.categories[c.categories[i]] = std::max(tp.categories[c.categories[i]], row[i]);
        total += row[i];
      }
      tp.total = std::max(tp.total, total);
    }
    d.measured[c.tier] = tp;
  }
  // A memory kind the trace never saw holding bytes measured zero (the profiler writes no counter for it).
  if (!d.counters.empty())
    for (const char* tier : {"device", "host_pinned", "host"}) d.measured.try_emplace(tier);
}

void load_trace(const fs::path& path, RunData& d) {
  if (!fs::exists(path)) {
    d.notes.push_back("trace.json is missing: no memory-over-time charts or time breakdown (train with "
                      "[output] profile = true or --profile to record one)");
    return;
  }
  json trace;
  if (!read_json_file(path, trace, d.notes)) return;
  if (!trace.contains("traceEvents") || !trace["traceEvents"].is_array()) {
    d.notes.push_back("trace.json has no traceEvents array; its part of the report is left out");
    return;
  }
  d.has_trace = true;
  const json& events = trace["traceEvents"];
  std::map<int, std::string> thread_names;
  const auto [t0, t1] = trace_span(events, thread_names);
  d.trace_seconds = (t1 - t0) / 1e6;
  Samples samples;
  std::map<std::pair<std::string, std::string>, SpanTotal> spans;
  collect_events(events, t0, thread_names, samples, spans);
  d.counters = counters_of(samples);
  for (auto& [key, s] : spans) d.span_totals.push_back(s);
  std::sort(d.span_totals.begin(), d.span_totals.end(),
            [](const SpanTotal& a, const SpanTotal& b) { return a.seconds > b.seconds; });
  measure_peaks(trace, d);
}

void load_plan(const fs::path& path, RunData& d) {
  if (!fs::exists(path)) {
    d.notes.push_back("plan.json is missing: planned peaks are not shown");
    return;
  }
  json plan;
  if (!read_json_file(path, plan, d.notes)) return;
  d.has_plan = true;
  PlanData& p = d.plan;
  if (plan.contains("model") && plan["model"].is_string()) p.model = plan["model"];
  if (plan.contains("placement") && plan["placement"].is_object())
    for (const auto& [k, v] : plan["placement"].items())
      if (v.is_number()) p.placement[k] = v.get<int>();
  if (plan.contains("bytes") && plan["bytes"].is_object())
    for (const auto& [tier, cats] : plan["bytes"].items())
      if (cats.is_object())
        for (const auto& [cat, v] : cats.items())
          if (v.is_number()) p.bytes[tier][cat] = v.get<double>();
  if (plan.contains("peak") && plan["peak"].is_object())
    for (const auto& [tier, v] : plan["peak"].items())
      if (v.is_number()) p.peak[tier] = v.get<double>();
  if (plan.contains("fits") && plan["fits"].is_boolean()) p.fits = plan["fits"].get<bool>();
  if (plan.contains("budget") && plan["budget"].is_object()) {
    const json& b = plan["budget"];
    if (std::isfinite(num(b, "device"))) d.budgets["device"] = num(b, "device");
    if (std::isfinite(num(b, "host"))) d.budgets["host"] = d.budgets["host_pinned"] = num(b, "host");
  }
}

void load_config(const fs::path& path, RunData& d) {
  if (!fs::exists(path)) return;
  toml::table cfg;
  try {
    cfg = toml::parse_file(path.string());
  } catch (const toml::parse_error&) {
    d.notes.push_back("config.toml could not be parsed; the header shows less");
    return;
  }
  const std::string preset = cfg["model"]["preset"].value_or(std::string());
  const std::string model_path = cfg["model"]["path"].value_or(std::string());
  d.config_model = !preset.empty() ? preset : model_path;
  d.config_frozen_tier = cfg["memory"]["frozen_tier"].value_or(std::string());
  const auto budget = [&](const char* key) -> std::optional<double> {
    const std::string text = cfg["memory"][key].value_or(std::string());
    if (text.empty()) return std::nullopt;
    try {
      return (double)parse_byte_size(text, std::string("memory.") + key);
    } catch (const StrataError&) {
      return std::nullopt;
    }
  };
  if (!d.budgets.count("device"))
    if (auto b = budget("device_budget")) d.budgets["device"] = *b;
  if (!d.budgets.count("host"))
    if (auto b = budget("host_budget")) d.budgets["host"] = d.budgets["host_pinned"] = *b;
}

// Without a trace, the per-step metrics give each tier's largest total (no categories).
void measured_from_metrics(RunData& d) {
  if (!d.measured.empty() || d.steps.empty()) return;
  TierPeak dev, pinned, host;
  for (const StepRecord& s : d.steps) {
    dev.total = std::max({dev.total, s.device, s.device_peak});
    pinned.total = std::max(pinned.total, s.host_pinned);
    host.total = std::max(host.total, s.host);
  }
  if (dev.total > 0) d.measured["device"] = dev;
  if (pinned.total > 0) d.measured["host_pinned"] = pinned;
  if (host.total > 0) d.measured["host"] = host;
}

}  // namespace

bool category_less(const std::string& a, const std::string& b) {
  const int ra = category_rank(a), rb = category_rank(b);
  return ra != rb ? ra < rb : a < b;
}

RunData load_run_data(const std::string& run_dir) {
  RunData d;
  d.run_dir = run_dir;
  const fs::path dir(run_dir);
  load_metrics(dir / "metrics.jsonl", d);
  load_trace(dir / "trace.json", d);
  load_plan(dir / "plan.json", d);
  load_config(dir / "config.toml", d);
  measured_from_metrics(d);
  return d;
}

}  // namespace strata
