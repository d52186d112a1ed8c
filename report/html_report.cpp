// write_html_report: assembles report.html from RunData (header, notes, memory charts per tier, peak tables, step
// and loss charts, time breakdown) and publishes it atomically (write_file_atomic). The page has no scripts.
#include "report/html_report.h"

#include <cmath>
#include <filesystem>
#include <set>

#include "core/atomic_file.h"
#include "core/check.h"
#include "report/html_text.h"
#include "report/report_charts.h"
#include "report/report_tables.h"
#include "report/run_data.h"

namespace strata {

namespace fs = std::filesystem;

namespace {

constexpr const char* kStyle = R"css(
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;margin:24px auto;max-width:1000px;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px}.sub{color:#666;margin:0 0 12px}
table{border-collapse:collapse;margin:6px 0 10px}th,td{padding:3px 10px;border-bottom:1px solid #eee;text-align:left}
thead th{background:#f4f4f7}td.num{text-align:right;font-variant-numeric:tabular-nums}td.na{color:#999}
td.off{background:#fde2e1;color:#a11;font-weight:600}tr.tier th,tr.tier td{border-top:2px solid #ccc;font-weight:600}
.summary th{font-weight:500;color:#555}.notes{background:#fff8e1;border:1px solid #f0d890;padding:8px 12px 8px 28px}
.note{color:#666}.swatch{display:inline-block;width:10px;height:10px;margin-right:6px;border-radius:2px}
.bar{display:inline-block;height:8px;background:#4e79a7;margin-right:6px;vertical-align:middle}
.legend{display:flex;flex-wrap:wrap;gap:4px 16px;margin:2px 0 8px;color:#444}
svg.chart{max-width:100%;height:auto;display:block}svg .tick{font-size:11px;fill:#555}svg .axis{font-size:12px;fill:#333}
svg .ref{font-size:11px}
)css";

std::string row(const std::string& key, const std::string& value) {
  return "<tr><th scope=\"row\">" + html_escape(key) + "</th><td>" + html_escape(value) + "</td></tr>";
}

std::string fixed(double v, int decimals) {
  if (!std::isfinite(v)) return "—";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string placement_text(const RunData& d) {
  if (d.has_plan && !d.plan.placement.empty()) {
    const auto count = [&](const char* k) { return d.plan.placement.count(k) ? d.plan.placement.at(k) : 0; };
    return std::to_string(count("resident")) + " blocks resident, " + std::to_string(count("host")) +
           " in host memory, " + std::to_string(count("disk")) + " on disk";
  }
  if (!d.config_frozen_tier.empty()) return "frozen blocks: " + d.config_frozen_tier + " (memory.frozen_tier)";
  return "unknown";
}

std::string summary_section(const RunData& d) {
  double tokens = 0, seconds = 0, wait = 0, read = 0, written = 0, last_loss = NAN;
  for (const StepRecord& s : d.steps) {
    tokens += s.tokens;
    seconds += s.seconds;
    wait += s.io_wait_seconds;
    read += s.read_bytes;
    written += s.write_bytes;
    if (std::isfinite(s.loss)) last_loss = s.loss;
  }
  const std::string model = !d.plan.model.empty() ? d.plan.model : !d.config_model.empty() ? d.config_model : "unknown";
  std::string h = "<table class=\"summary\">";
  h += row("model", model);
  h += row("placement", placement_text(d));
  if (d.plan.fits) h += row("plan", *d.plan.fits ? "fits the budgets" : "does NOT fit the budgets");
  h += row("steps", d.steps.empty() ? "none recorded"
                                    : std::to_string(d.steps.size()) + " (steps " + std::to_string(d.steps.front().step) +
                                          " to " + std::to_string(d.steps.back().step) + ")");
  h += row("tokens", fixed(tokens, 0));
  h += row("tokens/s", seconds > 0 ? fixed(tokens / seconds, 1) : "—");
  h += row("time in steps", human_seconds(seconds));
  h += row("final training loss", fixed(last_loss, 4));
  if (!d.evals.empty())
    h += row("last eval (step " + std::to_string(d.evals.back().step) + ")",
             "loss " + fixed(d.evals.back().loss, 4) + ", perplexity " + fixed(d.evals.back().perplexity, 3));
  h += row("I/O wait", human_seconds(wait) + (seconds > 0 ? " (" + percent(wait / seconds) + " of step time)" : ""));
  h += row("tier reads / writes", human_bytes(read) + " / " + human_bytes(written));
  if (d.has_trace) h += row("profiled time", human_seconds(d.trace_seconds));
  h += "</table>";
  return h;
}

std::string memory_section(const RunData& d) {
  std::string h = "<h2>Memory over time</h2>";
  if (!d.has_trace) return h + "<p class=\"note\">No trace.json: memory over time needs a profiling session.</p>";
  if (d.counters.empty()) return h + "<p class=\"note\">The trace holds no memory counters.</p>";
  h += "<p class=\"sub\">Bytes per category, stacked. Dashed lines: the planned peak";
  h += d.has_plan ? "" : " (no plan.json)";
  h += " and the budget.</p>";
  for (const MemoryCounter& c : d.counters) {
    const std::optional<double> planned =
        d.has_plan && d.plan.peak.count(c.tier) ? std::optional(d.plan.peak.at(c.tier)) : std::nullopt;
    const std::optional<double> budget = d.budgets.count(c.tier) ? std::optional(d.budgets.at(c.tier)) : std::nullopt;
    h += "<h3>" + html_escape(c.tier) + "</h3>" + memory_chart(c, d.trace_seconds, planned, budget);
    h += "<div class=\"legend\">";
    for (size_t k = 0; k < c.categories.size(); ++k) {
      double peak = 0;
      for (const auto& r : c.bytes) peak = std::max(peak, r[k]);
      h += "<span><span class=\"swatch\" style=\"background:" + html_escape(category_color(c.categories[k])) +
           "\"></span>" + html_escape(c.categories[k]) + " (peak " + html_escape(human_bytes(peak)) + ")</span>";
    }
    if (budget && !budget_on_chart(c, planned, *budget))
      h += "<span class=\"note\">budget " + html_escape(human_bytes(*budget)) + " (above the chart)</span>";
    h += "</div>";
  }
  return h;
}

std::string steps_section(const RunData& d) {
  std::string h = "<h2>Steps</h2>";
  if (d.steps.empty()) return h + "<p class=\"note\">metrics.jsonl holds no training steps.</p>";
  h += "<h3>Step time and I/O wait</h3>" + step_time_chart(d.steps);
  h += "<div class=\"legend\"><span><span class=\"swatch\" style=\"background:#a0cbe8\"></span>step time</span>"
       "<span><span class=\"swatch\" style=\"background:#e8743b\"></span>compute waiting for I/O</span></div>";
  const std::string loss = loss_chart(d.steps, d.evals);
  if (!loss.empty()) {
    h += "<h3>Loss</h3>" + loss;
    h += "<div class=\"legend\"><span><span class=\"swatch\" style=\"background:#4e79a7\"></span>training loss</span>";
    if (!d.evals.empty()) h += "<span><span class=\"swatch\" style=\"background:#e15759\"></span>eval loss</span>";
    h += "</div>";
  }
  return h;
}

// The samples the run printed ([train] sample_every): the prompt, then the model's continuation, per step.
std::string samples_section(const RunData& d) {
  if (d.samples.empty()) return "";
  std::string h = "<h2>Samples</h2><p class=\"sub\">Greedy continuations of the current weights "
                  "([train] sample_every); the prompt is in grey.</p><table><tr><th>step</th><th>sample</th></tr>";
  for (const RunData::Sample& s : d.samples)
    h += "<tr><td>" + std::to_string(s.step) + "</td><td style=\"white-space:pre-wrap\"><span class=\"note\">" +
         html_escape(s.prompt) + "</span>" + html_escape(s.text) + "</td></tr>";
  return h + "</table>";
}

std::string page(const RunData& d) {
  std::string h = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                  "<title>Strata report: " + html_escape(d.run_dir) + "</title><style>" + kStyle +
                  "</style></head><body>\n";
  h += "<h1>Strata run report</h1><p class=\"sub\">" + html_escape(d.run_dir) + "</p>\n";
  if (!d.notes.empty()) {
    h += "<ul class=\"notes\">";
    for (const std::string& n : d.notes) h += "<li>" + html_escape(n) + "</li>";
    h += "</ul>\n";
  }
  h += summary_section(d) + "\n" + memory_section(d) + "\n";
  h += "<h2>Planned vs measured peaks</h2><p class=\"sub\">Measured: the largest value any memory sample had";
  h += d.has_trace ? "." : " (without a trace: per-step totals only).";
  h += " Differences over 5% are highlighted.</p>" + planned_vs_measured_table(d) + "\n";
  h += "<h2>Top consumers</h2>" + top_consumers_table(d) + "\n";
  h += steps_section(d) + "\n" + samples_section(d) + "\n";
  if (d.has_trace) h += "<h2>Where the time went</h2>" + activity_table(d) + "\n";
  h += "<p class=\"note\">";
  h += d.has_trace ? "The full timeline is in trace.json: open it in ui.perfetto.dev or chrome://tracing. "
                   : "";
  h += "Regenerate this page with <code>strata report " + html_escape(d.run_dir) + "</code>.</p>\n</body></html>\n";
  return h;
}

}  // namespace

std::string write_html_report(const std::string& run_dir) {
  STRATA_USER_CHECK(fs::is_directory(run_dir),
                    "report: " + run_dir + " is not a folder; pass a run folder (output.dir)");
  const RunData d = load_run_data(run_dir);
  const fs::path out = fs::path(run_dir) / "report.html";
  write_file_atomic(out.string(), page(d));
  return out.string();
}

}  // namespace strata
