// Report tables. Byte cells carry the exact count in data-bytes (for tools and tests) and a human value as text;
// every name that came from a file is escaped.
#include "report/report_tables.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <set>
#include <tuple>

#include "report/html_text.h"
#include "report/report_charts.h"

namespace strata {

namespace {

std::string bytes_cell(std::optional<double> bytes, const std::string& missing = "—") {
  if (!bytes) return "<td class=\"num na\">" + html_escape(missing) + "</td>";
  return "<td class=\"num\" data-bytes=\"" + svg_num(*bytes, 0) + "\">" + html_escape(human_bytes(*bytes)) + "</td>";
}

std::string diff_cell(std::optional<double> planned, std::optional<double> measured) {
  if (!planned || !measured) return "<td class=\"num na\">—</td>";
  if (*planned <= 0) {
    return *measured > 0 ? "<td class=\"num off\" title=\"measured but not planned\">unplanned</td>"
                         : "<td class=\"num\">0.0%</td>";
  }
  const double f = (*measured - *planned) / *planned;
  const bool off = std::fabs(f) > kPlanTolerance;
  return std::string("<td class=\"num") + (off ? " off\" title=\"more than 5% off the plan\"" : "\"") + ">" +
         html_escape(signed_percent(f)) + "</td>";
}

template <class Map, class Key>
std::optional<double> lookup(const Map& m, const Key& k) {
  const auto it = m.find(k);
  return it == m.end() ? std::nullopt : std::optional<double>(it->second);
}

std::string swatch(const std::string& category) {
  return "<span class=\"swatch\" style=\"background:" + html_escape(category_color(category)) + "\"></span>";
}

}  // namespace

std::string planned_vs_measured_table(const RunData& d) {
  std::vector<std::string> tiers;
  for (const std::string& t : report_tiers())
    if (d.plan.peak.count(t) || d.plan.bytes.count(t) || d.measured.count(t)) tiers.push_back(t);
  for (const auto& [t, p] : d.measured)
    if (std::find(tiers.begin(), tiers.end(), t) == tiers.end()) tiers.push_back(t);
  if (tiers.empty()) return "<p class=\"note\">No memory figures: neither plan.json nor the trace or metrics have any.</p>";

  std::string h = "<table class=\"peaks\" id=\"planned-vs-measured\"><thead><tr><th>tier</th><th>category</th>"
                  "<th>planned</th><th>measured peak</th><th>difference</th></tr></thead><tbody>";
  for (const std::string& tier : tiers) {
    const auto plan_bytes = d.plan.bytes.find(tier);
    const auto meas = d.measured.find(tier);
    const std::string missing = tier == "disk" ? "not measured" : "—";
    std::optional<double> planned, measured;
    if (d.has_plan) planned = lookup(d.plan.peak, tier);
    if (meas != d.measured.end()) measured = meas->second.total;
    h += "<tr class=\"tier\" data-tier=\"" + html_escape(tier) + "\"><th scope=\"row\">" + html_escape(tier) +
         "</th><td>total</td>" + bytes_cell(planned) + bytes_cell(measured, missing) + diff_cell(planned, measured) +
         "</tr>";
    std::set<std::string> seen;
    std::vector<std::string> cats;
    if (plan_bytes != d.plan.bytes.end())
      for (const auto& [c, v] : plan_bytes->second)
        if (seen.insert(c).second) cats.push_back(c);
    if (meas != d.measured.end())
      for (const auto& [c, v] : meas->second.categories)
        if (seen.insert(c).second) cats.push_back(c);
    std::sort(cats.begin(), cats.end(), category_less);
    for (const std::string& c : cats) {
      const std::optional<double> p =
          plan_bytes != d.plan.bytes.end() ? std::optional(lookup(plan_bytes->second, c).value_or(0.0)) : std::nullopt;
      std::optional<double> m;
      if (meas != d.measured.end() && !meas->second.categories.empty())
        m = lookup(meas->second.categories, c).value_or(0.0);
      if (p.value_or(0) == 0 && m.value_or(0) == 0) continue;
      h += "<tr data-tier=\"" + html_escape(tier) + "\" data-category=\"" + html_escape(c) + "\"><td></td><td>" +
           swatch(c) + html_escape(c) + "</td>" + bytes_cell(p) + bytes_cell(m, missing) + diff_cell(p, m) + "</tr>";
    }
  }
  h += "</tbody></table>";
  return h;
}

std::string top_consumers_table(const RunData& d, size_t max_rows) {
  struct Row {
    std::string tier, category;
    double peak, tier_peak;
  };
  std::vector<Row> rows;
  for (const auto& [tier, p] : d.measured) {
    if (p.categories.empty()) {
      if (p.total > 0) rows.push_back({tier, "(all; no breakdown without a trace)", p.total, p.total});
      continue;
    }
    for (const auto& [c, v] : p.categories)
      if (v > 0) rows.push_back({tier, c, v, p.total});
  }
  if (rows.empty()) return "<p class=\"note\">No measured memory.</p>";
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    return std::tie(b.peak, a.tier, a.category) < std::tie(a.peak, b.tier, b.category);
  });
  if (rows.size() > max_rows) rows.resize(max_rows);
  std::string h = "<table id=\"top-consumers\"><thead><tr><th>#</th><th>tier</th><th>category</th><th>peak</th>"
                  "<th>share of the tier's peak</th></tr></thead><tbody>";
  int rank = 0;
  for (const Row& r : rows) {
    const double share = r.tier_peak > 0 ? std::min(1.0, r.peak / r.tier_peak) : NAN;
    h += "<tr><td class=\"num\">" + std::to_string(++rank) + "</td><td>" + html_escape(r.tier) + "</td><td>" +
         swatch(r.category) + html_escape(r.category) + "</td>" + bytes_cell(r.peak) + "<td class=\"num\">" +
         "<span class=\"bar\" style=\"width:" + svg_num(std::isfinite(share) ? share * 80 : 0, 1) + "px\"></span>" +
         html_escape(percent(share)) + "</td></tr>";
  }
  h += "</tbody></table>";
  return h;
}

std::string activity_table(const RunData& d) {
  if (d.span_totals.empty()) return "<p class=\"note\">The trace holds no timed spans.</p>";
  std::string h = "<table id=\"activity\"><thead><tr><th>span</th><th>track</th><th>count</th><th>total</th>"
                  "<th>mean</th><th>share of the profiled time</th></tr></thead><tbody>";
  for (const SpanTotal& s : d.span_totals) {
    const double share = d.trace_seconds > 0 ? s.seconds / d.trace_seconds : NAN;
    h += "<tr><td>" + html_escape(s.name) + "</td><td>" + html_escape(s.track) + "</td><td class=\"num\">" +
         std::to_string(s.count) + "</td><td class=\"num\">" + html_escape(human_seconds(s.seconds)) +
         "</td><td class=\"num\">" + html_escape(human_seconds(s.count ? s.seconds / s.count : NAN)) +
         "</td><td class=\"num\">" + html_escape(percent(share)) + "</td></tr>";
  }
  h += "</tbody></table><p class=\"note\">Spans nest (a step holds its forward and backward passes) and reads in "
       "flight overlap, so the shares add up to more than 100%.</p>";
  return h;
}

}  // namespace strata
