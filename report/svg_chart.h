// SvgPlot: a small inline-SVG chart canvas (data-to-pixel mapping, axes with nice ticks, paths, bars, dashed
// reference lines). Callers build shapes in data coordinates; every text it writes is HTML-escaped.
#pragma once
#include <functional>
#include <string>
#include <vector>

namespace strata {

// About `target` round tick values (1, 2 or 5 times a power of ten) covering [lo, hi].
std::vector<double> nice_ticks(double lo, double hi, int target);

class SvgPlot {
 public:
  // A width x height pixel chart; [x_lo, x_hi] x [y_lo, y_hi] maps onto the plot area inside fixed margins.
  SvgPlot(int width, int height, double x_lo, double x_hi, double y_lo, double y_hi);

  double px(double x) const;  // data x -> pixel x (clamped to the plot area)
  double py(double y) const;  // data y -> pixel y (clamped to the plot area)
  double x_lo() const { return x_lo_; }
  double x_hi() const { return x_hi_; }
  double plot_width() const { return right_ - left_; }

  // Grid lines, tick labels (tick_label(value)) and the axis title. Ticks are round multiples of `tick_unit`
  // (e.g. 2^20 for an axis labelled in MiB).
  void x_axis(const std::string& title, const std::function<std::string(double)>& tick_label, int target_ticks = 8,
              double tick_unit = 1.0);
  void y_axis(const std::string& title, const std::function<std::string(double)>& tick_label, int target_ticks = 5,
              double tick_unit = 1.0);

  // `d` is an SVG path in pixel coordinates (build it with px/py); fill/stroke are CSS colors or "none".
  void path(const std::string& d, const std::string& fill, const std::string& stroke, double stroke_width,
            const std::string& tooltip = "", const std::string& dash = "");
  // A bar from y = 0 to y over [x0, x1] (data coordinates).
  void bar(double x0, double x1, double y, const std::string& fill, const std::string& tooltip = "");
  void circle(double x, double y, double r_px, const std::string& fill, const std::string& tooltip = "");
  // A dashed horizontal line across the plot at data y, labelled at its right end.
  void reference_line(double y, const std::string& color, const std::string& label);

  // The finished <svg> element; `title` becomes its accessible name and <title>.
  std::string str(const std::string& title) const;

 private:
  int width_, height_;
  double left_, right_, top_, bottom_;
  double x_lo_, x_hi_, y_lo_, y_hi_;
  std::string body_;
};

}  // namespace strata
