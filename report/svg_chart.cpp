// SvgPlot implementation: linear scales, tick placement and the SVG markup (numbers via svg_num, text escaped).
// Ranges that are empty or not finite are widened to [lo, lo + 1] so a chart never divides by zero.
#include "report/svg_chart.h"

#include <algorithm>
#include <cmath>

#include "report/html_text.h"

namespace strata {

namespace {

constexpr double kLeft = 72, kRight = 150, kTop = 14, kBottom = 44;  // margins (the right one holds line labels)

void sanitize_range(double& lo, double& hi) {
  if (!std::isfinite(lo)) lo = 0;
  if (!std::isfinite(hi) || hi <= lo) hi = lo + 1;
}

std::string tooltip_element(const std::string& tooltip) {
  return tooltip.empty() ? "" : "<title>" + html_escape(tooltip) + "</title>";
}

// Round ticks in units of `unit`, converted back to data values and kept inside [lo, hi].
std::vector<double> unit_ticks(double lo, double hi, int target, double unit) {
  if (!(unit > 0) || !std::isfinite(unit)) unit = 1.0;
  std::vector<double> out;
  for (double t : nice_ticks(lo / unit, hi / unit, target))
    if (t * unit >= lo && t * unit <= hi) out.push_back(t * unit);
  return out;
}

}  // namespace

std::vector<double> nice_ticks(double lo, double hi, int target) {
  sanitize_range(lo, hi);
  target = std::max(target, 2);
  const double raw = (hi - lo) / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * mag * 1.0000001) {
      step = m * mag;
      break;
    }
  std::vector<double> ticks;
  for (double t = std::ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9 && ticks.size() < 64; t += step)
    ticks.push_back(std::fabs(t) < step * 1e-9 ? 0.0 : t);
  return ticks;
}

SvgPlot::SvgPlot(int width, int height, double x_lo, double x_hi, double y_lo, double y_hi)
    : width_(width), height_(height), left_(kLeft), right_(width - kRight), top_(kTop), bottom_(height - kBottom),
      x_lo_(x_lo), x_hi_(x_hi), y_lo_(y_lo), y_hi_(y_hi) {
  sanitize_range(x_lo_, x_hi_);
  sanitize_range(y_lo_, y_hi_);
  body_ += "<rect x=\"" + svg_num(left_) + "\" y=\"" + svg_num(top_) + "\" width=\"" + svg_num(right_ - left_) +
           "\" height=\"" + svg_num(bottom_ - top_) + "\" fill=\"#fbfbfd\" stroke=\"#c8c8d0\"/>";
}

double SvgPlot::px(double x) const {
  const double f = std::isfinite(x) ? (x - x_lo_) / (x_hi_ - x_lo_) : 0.0;
  return left_ + std::clamp(f, 0.0, 1.0) * (right_ - left_);
}

double SvgPlot::py(double y) const {
  const double f = std::isfinite(y) ? (y - y_lo_) / (y_hi_ - y_lo_) : 0.0;
  return bottom_ - std::clamp(f, 0.0, 1.0) * (bottom_ - top_);
}

void SvgPlot::x_axis(const std::string& title, const std::function<std::string(double)>& tick_label, int target,
                     double unit) {
  for (double t : unit_ticks(x_lo_, x_hi_, target, unit)) {
    const std::string x = svg_num(px(t));
    body_ += "<line x1=\"" + x + "\" y1=\"" + svg_num(top_) + "\" x2=\"" + x + "\" y2=\"" + svg_num(bottom_) +
             "\" stroke=\"#e4e4ea\"/>";
    body_ += "<text x=\"" + x + "\" y=\"" + svg_num(bottom_ + 16) + "\" text-anchor=\"middle\" class=\"tick\">" +
             html_escape(tick_label(t)) + "</text>";
  }
  body_ += "<text x=\"" + svg_num((left_ + right_) / 2) + "\" y=\"" + svg_num(height_ - 6) +
           "\" text-anchor=\"middle\" class=\"axis\">" + html_escape(title) + "</text>";
}

void SvgPlot::y_axis(const std::string& title, const std::function<std::string(double)>& tick_label, int target,
                     double unit) {
  for (double t : unit_ticks(y_lo_, y_hi_, target, unit)) {
    const std::string y = svg_num(py(t));
    body_ += "<line x1=\"" + svg_num(left_) + "\" y1=\"" + y + "\" x2=\"" + svg_num(right_) + "\" y2=\"" + y +
             "\" stroke=\"#e4e4ea\"/>";
    body_ += "<text x=\"" + svg_num(left_ - 6) + "\" y=\"" + svg_num(py(t) + 4) + "\" text-anchor=\"end\" class=\"tick\">" +
             html_escape(tick_label(t)) + "</text>";
  }
  const std::string cx = "14", cy = svg_num((top_ + bottom_) / 2);
  body_ += "<text x=\"" + cx + "\" y=\"" + cy + "\" text-anchor=\"middle\" class=\"axis\" transform=\"rotate(-90 " +
           cx + " " + cy + ")\">" + html_escape(title) + "</text>";
}

void SvgPlot::path(const std::string& d, const std::string& fill, const std::string& stroke, double stroke_width,
                   const std::string& tooltip, const std::string& dash) {
  body_ += "<path d=\"" + d + "\" fill=\"" + html_escape(fill) + "\" stroke=\"" + html_escape(stroke) +
           "\" stroke-width=\"" + svg_num(stroke_width) + "\"" +
           (dash.empty() ? "" : " stroke-dasharray=\"" + html_escape(dash) + "\"") + ">" + tooltip_element(tooltip) +
           "</path>";
}

void SvgPlot::bar(double x0, double x1, double y, const std::string& fill, const std::string& tooltip) {
  const double a = px(x0), b = px(x1), top = py(y), base = py(std::max(y_lo_, 0.0));
  body_ += "<rect x=\"" + svg_num(std::min(a, b)) + "\" y=\"" + svg_num(std::min(top, base)) + "\" width=\"" +
           svg_num(std::fabs(b - a)) + "\" height=\"" + svg_num(std::fabs(base - top)) + "\" fill=\"" +
           html_escape(fill) + "\">" + tooltip_element(tooltip) + "</rect>";
}

void SvgPlot::circle(double x, double y, double r_px, const std::string& fill, const std::string& tooltip) {
  body_ += "<circle cx=\"" + svg_num(px(x)) + "\" cy=\"" + svg_num(py(y)) + "\" r=\"" + svg_num(r_px) +
           "\" fill=\"" + html_escape(fill) + "\">" + tooltip_element(tooltip) + "</circle>";
}

void SvgPlot::reference_line(double y, const std::string& color, const std::string& label) {
  const std::string yy = svg_num(py(y));
  body_ += "<path d=\"M" + svg_num(left_) + " " + yy + "H" + svg_num(right_) + "\" fill=\"none\" stroke=\"" +
           html_escape(color) + "\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\">" + tooltip_element(label) +
           "</path>";
  body_ += "<text x=\"" + svg_num(right_ + 6) + "\" y=\"" + svg_num(py(y) + 4) + "\" class=\"ref\" fill=\"" +
           html_escape(color) + "\">" + html_escape(label) + "</text>";
}

std::string SvgPlot::str(const std::string& title) const {
  const std::string t = html_escape(title);
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 " + std::to_string(width_) + " " +
         std::to_string(height_) + "\" width=\"" + std::to_string(width_) + "\" height=\"" + std::to_string(height_) +
         "\" role=\"img\" aria-label=\"" + t + "\"><title>" + t + "</title>" + body_ + "</svg>";
}

}  // namespace strata
