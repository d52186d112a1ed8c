// Profiling output: the Profiler's Chrome trace (structure, tracks, stacked memory counters, coalescing, exact peaks)
// and the HTML report (balanced markup, SVG charts with finite numbers, planned vs measured table, escaping, fallbacks).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cmath>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "core/check.h"
#include "memory/profiler.h"
#include "report/html_report.h"
#include "report/html_text.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace strata {
namespace {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "strata-report-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_text(const fs::path& p, const std::string& text) {
  std::ofstream out(p);
  out << text;
}

constexpr int kDev = static_cast<int>(MemoryKind::Device);
constexpr int kPinned = static_cast<int>(MemoryKind::HostPinned);
constexpr int kW = static_cast<int>(MemoryCategory::Weights);
constexpr int kAct = static_cast<int>(MemoryCategory::Activations);
constexpr int kStream = static_cast<int>(MemoryCategory::Streaming);

MemorySnapshot snapshot(size_t weights, size_t activations, size_t pinned_streaming) {
  MemorySnapshot s;
  s.current[kDev][kW] = weights;
  s.current[kDev][kAct] = activations;
  s.kind_current[kDev] = weights + activations;
  s.current[kPinned][kStream] = pinned_streaming;
  s.kind_current[kPinned] = pinned_streaming;
  return s;
}

void sleep_us(int us) { std::this_thread::sleep_for(std::chrono::microseconds(us)); }

// A profiler with three steps of forward/backward per block, optimizer and I/O spans, and memory that rises
// and falls with the activations. The device peak is 64 MiB weights + 48 MiB activations.
void fill_synthetic_profile(Profiler& p) {
  const size_t MiB = 1 << 20;
  p.sample_memory(snapshot(64 * MiB, 0, 8 * MiB));
  for (int step = 1; step <= 3; ++step) {
    p.set_step(step);
    auto s = p.scope("step", "train");
    for (int layer = 0; layer < 3; ++layer) {
      {
        auto r = p.scope("read", "io", layer);
        sleep_us(300);
      }
      auto f = p.scope("forward", "compute", layer);
      sleep_us(300);
      p.sample_memory(snapshot(64 * MiB, (layer + 1) * 16 * MiB, 8 * MiB));
    }
    for (int layer = 2; layer >= 0; --layer) {
      auto b = p.scope("backward", "compute", layer);
      sleep_us(300);
      p.sample_memory(snapshot(64 * MiB, layer * 16 * MiB, 8 * MiB));
    }
    const double t = p.now_us();
    p.record("wait", "io", 1, t, 120.0);
    auto o = p.scope("optimizer", "optimizer");
    sleep_us(300);
  }
}

void write_synthetic_trace(const fs::path& dir) {
  Profiler p(true);
  fill_synthetic_profile(p);
  p.write_trace((dir / "trace.json").string());
}

// ---- Profiler and trace.json ------------------------------------------------------------------------------------

TEST(Profiler, DisabledRecordsNothing) {
  Profiler p(false);
  {
    auto s = p.scope("forward", "compute", 0);
  }
  p.record("read", "io", 1, 0, 10);
  p.sample_memory(snapshot(1, 2, 3));
  EXPECT_TRUE(p.spans().empty());
  EXPECT_TRUE(p.memory().empty());
  Profiler::Scope null_scope(nullptr, "x", "y", -1);  // a hook without a profiler is a no-op
}

TEST(Profiler, SpansCarryStepLayerAndDuration) {
  Profiler p(true);
  p.set_step(7);
  {
    auto s = p.scope("forward", "compute", 3);
    sleep_us(200);
  }
  ASSERT_EQ(p.spans().size(), 1u);
  const TraceSpan& s = p.spans()[0];
  EXPECT_EQ(s.name, "forward");
  EXPECT_EQ(s.track, "compute");
  EXPECT_EQ(s.layer, 3);
  EXPECT_EQ(s.step, 7);
  EXPECT_GE(s.dur_us, 150.0);
  EXPECT_GE(s.start_us, 0.0);
}

TEST(Profiler, ThreadSafeRecording) {
  Profiler p(true);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&p, t] {
      for (int i = 0; i < 500; ++i) {
        auto s = p.scope("read", "io", t);
        p.sample_memory(snapshot(i, t, 0));
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(p.spans().size(), 2000u);
}

TEST(Profiler, CoalescesDenseSamplesButKeepsLatestAndPeaks) {
  Profiler p(true);
  for (size_t i = 0; i < 5000; ++i) p.sample_memory(snapshot(1000 + i, i == 2500 ? 1000000 : 0, 0));
  EXPECT_LT(p.memory().size(), 5000u);  // 5000 samples in far less than 5000 x 200 us
  EXPECT_EQ(p.memory().back().snap.current[kDev][kW], 1000u + 4999u);  // the latest state is never lost
  const MemorySnapshot peaks = p.observed_peaks();
  EXPECT_EQ(peaks.peak[kDev][kAct], 1000000u);  // a spike that was coalesced away still counts
  EXPECT_EQ(peaks.kind_peak[kDev], 1000u + 2500u + 1000000u);
  for (size_t i = 2; i < p.memory().size(); ++i)
    EXPECT_GE(p.memory()[i].t_us - p.memory()[i - 2].t_us, Profiler::kCoalesceUs);
}

TEST(Profiler, TraceIsChromeEventFormat) {
  TempDir tmp;
  Profiler p(true);
  fill_synthetic_profile(p);
  const fs::path path = tmp.path() / "trace.json";
  p.write_trace(path.string());
  EXPECT_FALSE(fs::exists(tmp.path() / "trace.json.tmp"));
  const json trace = json::parse(read_text(path));
  ASSERT_TRUE(trace.is_object());
  EXPECT_EQ(trace["displayTimeUnit"], "ms");
  ASSERT_TRUE(trace["traceEvents"].is_array());

  std::map<int, std::string> thread_names;
  std::set<std::string> counters;
  size_t complete = 0, with_layer = 0;
  for (const json& e : trace["traceEvents"]) {
    for (const char* key : {"ph", "ts", "pid", "tid", "name"}) ASSERT_TRUE(e.contains(key)) << e.dump();
    EXPECT_TRUE(e["ts"].is_number()) << e.dump();
    EXPECT_EQ(e["pid"], 1);
    const std::string ph = e["ph"];
    if (ph == "M") {
      if (e["name"] == "thread_name") thread_names[e["tid"].get<int>()] = e["args"]["name"];
    } else if (ph == "X") {
      ++complete;
      ASSERT_TRUE(e["dur"].is_number());
      EXPECT_GE(e["dur"].get<double>(), 0.0);
      EXPECT_GE(e["ts"].get<double>(), 0.0);
      ASSERT_TRUE(e["args"].contains("step"));
      EXPECT_GE(e["args"]["step"].get<int>(), 1);
      EXPECT_LE(e["args"]["step"].get<int>(), 3);
      if (e["args"].contains("layer")) ++with_layer;
      ASSERT_TRUE(thread_names.count(e["tid"].get<int>())) << "span on an unnamed track: " << e.dump();
      EXPECT_EQ(thread_names[e["tid"].get<int>()].rfind(e["cat"].get<std::string>(), 0), 0u);  // "io" or "io (2)"
    } else if (ph == "C") {
      counters.insert(e["name"]);
      ASSERT_TRUE(e["args"].is_object());
      for (const auto& [cat, v] : e["args"].items()) EXPECT_TRUE(v.is_number_unsigned()) << cat;
      if (e["name"] == "device bytes") {
        EXPECT_TRUE(e["args"].contains("weights"));
        EXPECT_TRUE(e["args"].contains("activations"));
        EXPECT_FALSE(e["args"].contains("grads"));  // never used: no series
      }
    } else {
      ADD_FAILURE() << "unexpected phase " << ph;
    }
  }
  // 3 steps x (1 step + 3 reads + 3 forward + 3 backward + 1 wait + 1 optimizer)
  EXPECT_EQ(complete, 3u * 12u);
  EXPECT_EQ(with_layer, 3u * 10u);
  std::set<std::string> tracks;
  for (const auto& [tid, name] : thread_names) tracks.insert(name);
  EXPECT_EQ(tracks, (std::set<std::string>{"train", "compute", "optimizer", "io"}));
  EXPECT_EQ(counters, (std::set<std::string>{"device bytes", "host_pinned bytes"}));  // host never held bytes

  const json& peaks = trace["metadata"]["strata"]["memory_peaks"];
  EXPECT_EQ(peaks["device"]["total"].get<size_t>(), (64u + 48u) << 20);
  EXPECT_EQ(peaks["device"]["categories"]["activations"].get<size_t>(), 48u << 20);
  EXPECT_EQ(peaks["host_pinned"]["total"].get<size_t>(), 8u << 20);
}

// Reads in flight overlap without nesting; viewers need the events of one thread to nest, so the writer spreads
// such spans over extra lanes ("io (2)", ...), and a child never ends after its parent once rounded.
TEST(Profiler, OverlappingSpansGetTheirOwnLanes) {
  TempDir tmp;
  Profiler p(true);
  p.set_step(1);
  p.record("step", "train", -1, 0.0, 1000.0);
  p.record("forward", "train", 0, 100.0, 300.0);
  p.record("forward", "train", 1, 400.0, 600.0);  // ends exactly with its parent
  p.record("read", "io", 0, 10.0, 100.0);
  p.record("read", "io", 1, 50.0, 100.0);   // overlaps read 0: second lane
  p.record("read", "io", 2, 60.0, 200.0);   // overlaps both: third lane
  p.record("read", "io", 3, 120.0, 10.0);   // lane 1 is free again
  p.record("read", "io", 4, 0.1234567, 0.3333333);
  p.write_trace((tmp.path() / "trace.json").string());
  const json trace = json::parse(read_text(tmp.path() / "trace.json"));
  std::map<int, std::string> names;
  std::map<int, std::vector<std::pair<long long, long long>>> lanes;  // tid -> [start, end) in ns, as viewers read
  for (const json& e : trace["traceEvents"]) {
    if (e["ph"] == "M" && e["name"] == "thread_name") names[e["tid"].get<int>()] = e["args"]["name"];
    if (e["ph"] != "X") continue;
    const long long ts = std::llround(e["ts"].get<double>() * 1000), dur = std::llround(e["dur"].get<double>() * 1000);
    lanes[e["tid"].get<int>()].emplace_back(ts, ts + dur);
  }
  std::set<std::string> io_lanes;
  for (const auto& [tid, name] : names)
    if (name.rfind("io", 0) == 0) io_lanes.insert(name);
  EXPECT_EQ(io_lanes, (std::set<std::string>{"io", "io (2)", "io (3)"}));
  for (auto& [tid, spans] : lanes) {
    std::sort(spans.begin(), spans.end(), [](auto a, auto b) { return a.first != b.first ? a.first < b.first : a.second > b.second; });
    std::vector<long long> open;
    for (const auto& [s, e] : spans) {
      while (!open.empty() && open.back() <= s) open.pop_back();
      EXPECT_TRUE(open.empty() || e <= open.back()) << names[tid] << ": [" << s << ", " << e << ") crosses its parent";
      open.push_back(e);
    }
  }
  EXPECT_EQ(lanes[1].size(), 3u);  // the train track nests on one lane
}

TEST(Profiler, TraceToUnwritablePlaceFailsClearly) {
  Profiler p(true);
  EXPECT_THROW(p.write_trace("/nonexistent-folder/trace.json"), StrataError);
}

// ---- report.html ------------------------------------------------------------------------------------------------

const std::string kModelName = "tiny <script>alert(\"x\")</script> & co";

void write_metrics(const fs::path& dir, int steps) {
  std::ofstream out(dir / "metrics.jsonl");
  for (int s = 1; s <= steps; ++s) {
    json j = {{"step", s},
              {"loss", s == 5 ? json(nullptr) : json(6.0 - 0.2 * s)},
              {"lr", 3e-4},
              {"grad_norm", 1.0},
              {"tokens", 256},
              {"seconds", 0.05 + 0.001 * s},
              {"active_layers", {1, 2}},
              {"skipped", s == 5},
              {"memory", {{"device", 100 << 20}, {"device_peak", 120 << 20}, {"host_pinned", 8 << 20}, {"host", 0}}},
              {"io",
               {{"host_read_bytes", 1 << 20},
                {"host_write_bytes", 0},
                {"disk_read_bytes", 2 << 20},
                {"disk_write_bytes", 0},
                {"io_wait_seconds", 0.01},
                {"read_gbps", 1.5}}}};
    out << j.dump() << "\n";
    if (s % 5 == 0) out << json{{"step", s}, {"eval_loss", 5.0 - 0.1 * s}, {"eval_perplexity", 100.0}}.dump() << "\n";
  }
}

// Device: weights planned exactly, activations planned at 40 MiB against a measured 48 MiB (+20%, flagged).
void write_plan(const fs::path& dir) {
  const double MiB = 1 << 20;
  json plan = {{"model", kModelName},
               {"placement", {{"resident", 2}, {"host", 1}, {"disk", 1}}},
               {"bytes",
                {{"device", {{"weights", 64 * MiB}, {"activations", 40 * MiB}}},
                 {"host_pinned", {{"streaming", 8 * MiB}}},
                 {"host", json::object()},
                 {"disk", {{"weights", 32 * MiB}}}}},
               {"peak", {{"device", 104 * MiB}, {"host_pinned", 8 * MiB}, {"host", 0}, {"disk", 32 * MiB}}},
               {"budget", {{"device", 128 * MiB}, {"host", nullptr}}},
               {"fits", true}};
  write_text(dir / "plan.json", plan.dump(2));
}

struct Tag {
  std::string name;
  bool closing, self_closing;
  std::string text;
};

std::vector<Tag> tags_of(const std::string& html) {
  std::vector<Tag> tags;
  static const std::regex tag_re(R"(<(/?)([a-zA-Z][a-zA-Z0-9]*)\b([^>]*?)(/?)>)");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), tag_re); it != std::sregex_iterator(); ++it)
    tags.push_back({(*it)[2], (*it)[1].length() > 0, (*it)[4].length() > 0, it->str()});
  return tags;
}

// Every opened element is closed in order (void elements aside); returns "" or the first problem.
std::string check_balanced(const std::string& html) {
  static const std::set<std::string> kVoid = {"meta", "br", "hr", "img", "link", "input"};
  std::vector<std::string> stack;
  for (const Tag& t : tags_of(html)) {
    if (t.self_closing || (!t.closing && kVoid.count(t.name))) continue;
    if (!t.closing) {
      stack.push_back(t.name);
    } else {
      if (stack.empty() || stack.back() != t.name)
        return "</" + t.name + "> closes <" + (stack.empty() ? std::string("nothing") : stack.back()) + ">";
      stack.pop_back();
    }
  }
  return stack.empty() ? "" : "<" + stack.back() + "> is never closed";
}

std::vector<std::string> svg_elements(const std::string& html) {
  std::vector<std::string> out;
  for (size_t pos = html.find("<svg"); pos != std::string::npos; pos = html.find("<svg", pos + 1)) {
    const size_t end = html.find("</svg>", pos);
    if (end == std::string::npos) break;
    out.push_back(html.substr(pos, end + 6 - pos));
  }
  return out;
}

std::string table_by_id(const std::string& html, const std::string& id) {
  const size_t start = html.find("<table id=\"" + id + "\"");
  const size_t start2 = html.find("id=\"" + id + "\"");
  const size_t s = start != std::string::npos ? start : html.rfind("<table", start2);
  if (s == std::string::npos || start2 == std::string::npos) return "";
  return html.substr(s, html.find("</table>", s) + 8 - s);
}

// The <tr> of the planned-vs-measured table for (tier, category); category "" is the tier's total row.
std::string peak_row(const std::string& table, const std::string& tier, const std::string& category) {
  const std::string key = category.empty() ? "class=\"tier\" data-tier=\"" + tier + "\">"
                                           : "data-tier=\"" + tier + "\" data-category=\"" + category + "\">";
  const size_t pos = table.find(key);
  if (pos == std::string::npos) return "";
  return table.substr(pos, table.find("</tr>", pos) - pos);
}

void expect_svg_sane(const std::string& html, size_t expected_charts) {
  const std::vector<std::string> svgs = svg_elements(html);
  EXPECT_EQ(svgs.size(), expected_charts);
  size_t opens = 0, closes = 0;
  for (size_t p = html.find("<svg"); p != std::string::npos; p = html.find("<svg", p + 1)) ++opens;
  for (size_t p = html.find("</svg>"); p != std::string::npos; p = html.find("</svg>", p + 1)) ++closes;
  EXPECT_EQ(opens, closes);
  static const std::regex attr_re(R"re(\s([a-zA-Z-]+)="([^"]*)")re");
  static const std::regex bad_number(R"((^|[^a-z])(nan|inf))", std::regex::icase);
  for (const std::string& svg : svgs) {
    const std::string open_tag = svg.substr(0, svg.find('>'));
    EXPECT_NE(open_tag.find("viewBox=\"0 0 "), std::string::npos) << open_tag;
    EXPECT_TRUE(svg.find("<path") != std::string::npos || svg.find("<rect") != std::string::npos);
    EXPECT_EQ(check_balanced(svg), "");
    for (auto it = std::sregex_iterator(svg.begin(), svg.end(), attr_re); it != std::sregex_iterator(); ++it) {
      const std::string name = (*it)[1], value = (*it)[2];
      if (name == "aria-label" || name == "class" || name == "fill" || name == "stroke" || name == "text-anchor" ||
          name == "role" || name == "xmlns")
        continue;
      EXPECT_FALSE(std::regex_search(value, bad_number)) << name << "=\"" << value << "\"";
      EXPECT_TRUE(std::regex_match(value, std::regex(R"([-0-9. ,MLHVZrotae()]*)"))) << name << "=\"" << value << "\"";
    }
  }
}

TEST(Report, FullRunFolder) {
  TempDir tmp;
  write_metrics(tmp.path(), 20);
  write_plan(tmp.path());
  write_synthetic_trace(tmp.path());
  write_text(tmp.path() / "config.toml", "[model]\npreset = \"tiny\"\n[memory]\nfrozen_tier = \"auto\"\n");

  const std::string out = write_html_report(tmp.path().string());
  EXPECT_EQ(fs::path(out), tmp.path() / "report.html");
  EXPECT_FALSE(fs::exists(tmp.path() / "report.html.tmp"));
  const std::string html = read_text(out);

  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(check_balanced(html), "");
  // Self-contained and script-free: no scripts, no links or sources, no URL but the SVG namespace.
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_EQ(html.find("href="), std::string::npos);
  std::string no_ns = std::regex_replace(html, std::regex("http://www\\.w3\\.org/2000/svg"), "");
  EXPECT_EQ(no_ns.find("http"), std::string::npos);
  // The model name is escaped.
  EXPECT_NE(html.find("tiny &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co"), std::string::npos);

  // Memory charts for device and host_pinned, plus step time and loss.
  expect_svg_sane(html, 4);
  EXPECT_NE(html.find("device memory over time"), std::string::npos);
  EXPECT_NE(html.find("host_pinned memory over time"), std::string::npos);
  EXPECT_NE(html.find("planned 104 MiB"), std::string::npos);  // the planned peak line
  EXPECT_NE(html.find("budget 128 MiB"), std::string::npos);   // the budget line
  EXPECT_NE(html.find("stroke-dasharray"), std::string::npos);

  const std::string table = table_by_id(html, "planned-vs-measured");
  ASSERT_FALSE(table.empty());
  const auto bytes_attr = [](double v) { return "data-bytes=\"" + svg_num(v, 0) + "\""; };
  const double M = 1 << 20;
  // Device total: planned 104 MiB, measured 112 MiB (+7.7%: flagged).
  const std::string dev = peak_row(table, "device", "");
  EXPECT_NE(dev.find(bytes_attr(104 * M)), std::string::npos) << dev;
  EXPECT_NE(dev.find(bytes_attr(112 * M)), std::string::npos) << dev;
  EXPECT_NE(dev.find("+7.7%"), std::string::npos) << dev;
  EXPECT_NE(dev.find("class=\"num off\""), std::string::npos) << dev;
  const std::string weights = peak_row(table, "device", "weights");
  EXPECT_NE(weights.find(bytes_attr(64 * M)), std::string::npos) << weights;
  EXPECT_NE(weights.find("+0.0%"), std::string::npos) << weights;
  EXPECT_EQ(weights.find(" off"), std::string::npos) << weights;
  const std::string act = peak_row(table, "device", "activations");
  EXPECT_NE(act.find(bytes_attr(40 * M)), std::string::npos) << act;
  EXPECT_NE(act.find(bytes_attr(48 * M)), std::string::npos) << act;
  EXPECT_NE(act.find("+20.0%"), std::string::npos) << act;
  EXPECT_NE(act.find(" off"), std::string::npos) << act;
  const std::string pinned = peak_row(table, "host_pinned", "");
  EXPECT_NE(pinned.find(bytes_attr(8 * M)), std::string::npos) << pinned;
  EXPECT_EQ(pinned.find(" off"), std::string::npos) << pinned;
  const std::string disk = peak_row(table, "disk", "");
  EXPECT_NE(disk.find(bytes_attr(32 * M)), std::string::npos) << disk;
  EXPECT_NE(disk.find("not measured"), std::string::npos) << disk;
  EXPECT_FALSE(peak_row(table, "host", "").empty());

  const std::string top = table_by_id(html, "top-consumers");
  ASSERT_FALSE(top.empty());
  EXPECT_LT(top.find("weights"), top.find("activations"));  // largest first
  EXPECT_NE(top.find("57.1%"), std::string::npos);          // 64 of 112 MiB

  const std::string activity = table_by_id(html, "activity");
  for (const char* span : {"forward", "backward", "optimizer", "read", "wait", "step"})
    EXPECT_NE(activity.find("<td>" + std::string(span) + "</td>"), std::string::npos) << span;

  // Header: placement from the plan, step count, tokens/s.
  EXPECT_NE(html.find("2 blocks resident, 1 in host memory, 1 on disk"), std::string::npos);
  EXPECT_NE(html.find("20 (steps 1 to 20)"), std::string::npos);
  EXPECT_NE(html.find("tokens/s"), std::string::npos);
  EXPECT_EQ(html.find("plan.json is missing"), std::string::npos);
}

TEST(Report, MetricsOnly) {
  TempDir tmp;
  write_metrics(tmp.path(), 12);
  std::ofstream(tmp.path() / "metrics.jsonl", std::ios::app) << "not json\n";
  write_text(tmp.path() / "config.toml", "[model]\npreset = \"tiny\"\n[memory]\nfrozen_tier = \"host\"\n");
  const std::string html = read_text(write_html_report(tmp.path().string()));
  EXPECT_EQ(check_balanced(html), "");
  EXPECT_NE(html.find("plan.json is missing"), std::string::npos);
  EXPECT_NE(html.find("trace.json is missing"), std::string::npos);
  EXPECT_NE(html.find("1 line(s) could not be read"), std::string::npos);
  EXPECT_NE(html.find("frozen blocks: host"), std::string::npos);
  expect_svg_sane(html, 2);  // step time and loss only
  // Measured peaks fall back to the per-step memory figures.
  const std::string dev = peak_row(table_by_id(html, "planned-vs-measured"), "device", "");
  EXPECT_NE(dev.find("data-bytes=\"" + std::to_string(120 << 20) + "\""), std::string::npos) << dev;
}

TEST(Report, TraceWithoutPlanAndBrokenPlan) {
  TempDir tmp;
  write_metrics(tmp.path(), 6);
  write_synthetic_trace(tmp.path());
  write_text(tmp.path() / "plan.json", "{ not json");
  const std::string html = read_text(write_html_report(tmp.path().string()));
  EXPECT_EQ(check_balanced(html), "");
  EXPECT_NE(html.find("plan.json is not a JSON object"), std::string::npos);
  expect_svg_sane(html, 4);
  EXPECT_EQ(html.find("planned 1"), std::string::npos);  // no planned line without a plan
}

TEST(Report, EmptyMetricsAndNotAFolder) {
  TempDir tmp;
  write_text(tmp.path() / "metrics.jsonl", "");
  const std::string html = read_text(write_html_report(tmp.path().string()));
  EXPECT_EQ(check_balanced(html), "");
  EXPECT_NE(html.find("no training steps"), std::string::npos);
  expect_svg_sane(html, 0);
  EXPECT_THROW(write_html_report((tmp.path() / "missing").string()), StrataError);
}

TEST(HtmlText, EscapingAndUnits) {
  EXPECT_EQ(html_escape("<a href='x'>\"&\"</a>"), "&lt;a href=&#39;x&#39;&gt;&quot;&amp;&quot;&lt;/a&gt;");
  EXPECT_EQ(human_bytes(512), "512 B");
  EXPECT_EQ(human_bytes(1536), "1.50 KiB");
  EXPECT_EQ(human_bytes(112.0 * (1 << 20)), "112 MiB");
  EXPECT_EQ(human_bytes(48.0 * (1ull << 30)), "48.0 GiB");
  EXPECT_EQ(human_bytes(NAN), "—");
  EXPECT_EQ(human_seconds(0.0123), "12.3 ms");
  EXPECT_EQ(human_seconds(2.5), "2.50 s");
  EXPECT_EQ(human_seconds(200), "3 min 20 s");
  EXPECT_EQ(svg_num(NAN), "0");
  EXPECT_EQ(svg_num(INFINITY), "0");
  EXPECT_EQ(svg_num(1.50), "1.5");
  EXPECT_EQ(svg_num(-0.001), "0");
  EXPECT_EQ(signed_percent(0.0769), "+7.7%");
}

}  // namespace
}  // namespace strata
