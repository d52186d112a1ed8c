// Report charts built on SvgPlot. Long series are reduced to about one point per pixel column (keeping each
// column's largest value), so report.html stays small and the peaks stay visible.
#include "report/report_charts.h"

#include <algorithm>
#include <cmath>
#include <functional>

#include "report/html_text.h"
#include "report/svg_chart.h"

namespace strata {

namespace {

constexpr int kWidth = 960, kHeight = 300;

// Indices of the samples to draw: all when few, else per pixel column the one with the largest stacked total.
std::vector<size_t> reduce_samples(const MemoryCounter& c, const SvgPlot& plot) {
  std::vector<size_t> keep;
  const size_t columns = (size_t)std::max(1.0, plot.plot_width());
  if (c.t.size() <= 2 * columns) {
    for (size_t i = 0; i < c.t.size(); ++i) keep.push_back(i);
    return keep;
  }
  const auto total = [&](size_t i) {
    double s = 0;
    for (double v : c.bytes[i]) s += v;
    return s;
  };
  long last_col = -1;
  for (size_t i = 0; i < c.t.size(); ++i) {
    const long col = std::lround(plot.px(c.t[i]));
    if (col != last_col || keep.empty()) {
      keep.push_back(i);
      last_col = col;
    } else if (total(i) > total(keep.back())) {
      keep.back() = i;
    }
  }
  return keep;
}

// Path commands in pixel coordinates: "M x y" / "L x y", and a horizontal then vertical move "H x V y".
void path_point(std::string& d, char command, double x, double y) {
  d += command;
  d += svg_num(x);
  d += ' ';
  d += svg_num(y);
}

void path_hv(std::string& d, double x, double y) {
  d += 'H';
  d += svg_num(x);
  d += 'V';
  d += svg_num(y);
}

std::function<std::string(double)> byte_ticks(const ByteUnit& u) {
  return [u](double v) { return svg_num(v / u.scale, 2) + " " + std::string(u.name); };
}

double max_total(const MemoryCounter& c) {
  double m = 0;
  for (const auto& row : c.bytes) {
    double s = 0;
    for (double v : row) s += v;
    m = std::max(m, s);
  }
  return m;
}

std::string seconds_tick(double s) { return human_seconds(s); }
std::string step_tick(double s) { return svg_num(s, 0); }

}  // namespace

std::string category_color(const std::string& category) {
  static const std::pair<const char*, const char*> kColors[] = {
      {"weights", "#4e79a7"},     {"master_weights", "#76b7b2"}, {"grads", "#f28e2b"}, {"optimizer_state", "#e15759"},
      {"activations", "#59a14f"}, {"workspace", "#edc948"},      {"streaming", "#b07aa1"}, {"kv_cache", "#ff9da7"},
      {"other", "#9c755f"}};
  for (const auto& [name, color] : kColors)
    if (category == name) return color;
  static const char* kFallback[] = {"#d37295", "#bab0ac", "#86bcb6", "#d4a6c8", "#8cd17d"};
  return kFallback[std::hash<std::string>{}(category) % 5];
}

bool budget_on_chart(const MemoryCounter& c, std::optional<double> planned_peak, double budget) {
  return budget <= 4 * std::max({max_total(c), planned_peak.value_or(0.0), 1.0});
}

std::string memory_chart(const MemoryCounter& c, double t_end, std::optional<double> planned_peak,
                         std::optional<double> budget) {
  if (c.t.empty() || c.categories.empty()) return "";
  double top = std::max(max_total(c), planned_peak.value_or(0.0));
  const bool show_budget = budget && budget_on_chart(c, planned_peak, *budget);
  if (show_budget) top = std::max(top, *budget);
  top = top > 0 ? top * 1.08 : 1.0;
  t_end = std::max({t_end, c.t.back(), 1e-6});
  SvgPlot plot(kWidth, kHeight, 0.0, t_end, 0.0, top);
  const ByteUnit unit = byte_unit_for(top);
  plot.y_axis("memory (" + std::string(unit.name) + ")", byte_ticks(unit), 5, unit.scale);
  plot.x_axis("time since the trace began", seconds_tick);

  const std::vector<size_t> keep = reduce_samples(c, plot);
  // Draw the area under each cumulative sum, the topmost first, so each category shows as its own band.
  for (size_t k = c.categories.size(); k-- > 0;) {
    double peak = 0;
    for (const auto& row : c.bytes) peak = std::max(peak, row[k]);
    if (peak <= 0) continue;
    std::string d;
    path_point(d, 'M', plot.px(c.t[keep.front()]), plot.py(0));
    for (size_t i : keep) {
      double cum = 0;
      for (size_t j = 0; j <= k; ++j) cum += c.bytes[i][j];
      path_hv(d, plot.px(c.t[i]), plot.py(cum));  // hold the last level, then step
    }
    path_hv(d, plot.px(t_end), plot.py(0));
    d += 'Z';
    plot.path(d, category_color(c.categories[k]), "none", 0, c.categories[k] + ": peak " + human_bytes(peak));
  }
  if (planned_peak) plot.reference_line(*planned_peak, "#333333", "planned " + human_bytes(*planned_peak));
  if (show_budget) plot.reference_line(*budget, "#c0392b", "budget " + human_bytes(*budget));
  return plot.str(c.tier + " memory over time, stacked by category");
}

std::string step_time_chart(const std::vector<StepRecord>& steps) {
  if (steps.empty()) return "";
  double top = 0;
  for (const StepRecord& s : steps) top = std::max({top, s.seconds, s.io_wait_seconds});
  const double first = steps.front().step, last = steps.back().step;
  SvgPlot plot(kWidth, kHeight, first - 0.5, last + 0.5, 0.0, top > 0 ? top * 1.08 : 1.0);
  plot.y_axis("seconds", seconds_tick);
  plot.x_axis("step", step_tick);
  // Many steps: average groups of consecutive steps so each bar keeps at least two pixels.
  const size_t max_bars = (size_t)std::max(1.0, plot.plot_width() / 2);
  const size_t group = (steps.size() + max_bars - 1) / max_bars;
  for (size_t i = 0; i < steps.size(); i += group) {
    const size_t n = std::min(group, steps.size() - i);
    double secs = 0, wait = 0;
    for (size_t j = i; j < i + n; ++j) {
      secs += steps[j].seconds;
      wait += steps[j].io_wait_seconds;
    }
    secs /= n;
    wait /= n;
    const double x0 = steps[i].step - 0.45, x1 = steps[i + n - 1].step + 0.45;
    const std::string label = n == 1 ? "step " + std::to_string(steps[i].step)
                                     : "steps " + std::to_string(steps[i].step) + "-" +
                                           std::to_string(steps[i + n - 1].step) + " (mean)";
    plot.bar(x0, x1, secs, "#a0cbe8", label + ": " + human_seconds(secs) + ", I/O wait " + human_seconds(wait));
    if (wait > 0) plot.bar(x0, x1, wait, "#e8743b", label + ": I/O wait " + human_seconds(wait));
  }
  return plot.str("step time and I/O wait per step");
}

std::string loss_chart(const std::vector<StepRecord>& steps, const std::vector<EvalRecord>& evals) {
  double lo = INFINITY, hi = -INFINITY, x_lo = INFINITY, x_hi = -INFINITY;
  const auto extend = [&](int step, double loss) {
    if (!std::isfinite(loss)) return;
    lo = std::min(lo, loss);
    hi = std::max(hi, loss);
    x_lo = std::min(x_lo, (double)step);
    x_hi = std::max(x_hi, (double)step);
  };
  for (const StepRecord& s : steps) extend(s.step, s.loss);
  for (const EvalRecord& e : evals) extend(e.step, e.loss);
  if (!std::isfinite(lo)) return "";
  const double pad = std::max((hi - lo) * 0.06, 1e-3);
  SvgPlot plot(kWidth, kHeight, x_lo, x_hi > x_lo ? x_hi : x_lo + 1, std::max(0.0, lo - pad), hi + pad);
  plot.y_axis("loss", [](double v) { return svg_num(v, 3); });
  plot.x_axis("step", step_tick);
  std::string d;
  bool pen_down = false;
  for (const StepRecord& s : steps) {
    if (!std::isfinite(s.loss)) {
      pen_down = false;
      continue;
    }
    path_point(d, pen_down ? 'L' : 'M', plot.px(s.step), plot.py(s.loss));
    pen_down = true;
  }
  if (!d.empty()) plot.path(d, "none", "#4e79a7", 1.5, "training loss");
  std::string e;
  for (const EvalRecord& ev : evals)
    if (std::isfinite(ev.loss))
      path_point(e, e.empty() ? 'M' : 'L', plot.px(ev.step), plot.py(ev.loss));
  if (!e.empty()) plot.path(e, "none", "#e15759", 1.5, "eval loss", "5 3");
  for (const EvalRecord& ev : evals)
    if (std::isfinite(ev.loss))
      plot.circle(ev.step, ev.loss, 3.5, "#e15759",
                  "step " + std::to_string(ev.step) + ": eval loss " + svg_num(ev.loss, 4) + ", perplexity " +
                      svg_num(ev.perplexity, 3));
  return plot.str("training and eval loss");
}

}  // namespace strata
