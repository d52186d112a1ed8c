// Escaping and human-unit formatting for the HTML report (no locale; plain snprintf).
// Non-finite values become "—" in text and 0 in SVG coordinates, so the page never shows NaN or Inf.
#include "report/html_text.h"

#include <cmath>
#include <cstdio>

namespace strata {

namespace {

std::string printf_string(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

}  // namespace

std::string html_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += ch;
    }
  }
  return out;
}

ByteUnit byte_unit_for(double max_bytes) {
  static constexpr const char* kNames[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double scale = 1.0;
  int u = 0;
  while (u < 4 && std::isfinite(max_bytes) && max_bytes >= scale * 1024.0) {
    scale *= 1024.0;
    ++u;
  }
  return {scale, kNames[u]};
}

std::string human_bytes(double bytes) {
  if (!std::isfinite(bytes) || bytes < 0) return "—";
  const ByteUnit u = byte_unit_for(bytes);
  if (u.scale == 1.0) return printf_string("%.0f B", bytes);
  const double v = bytes / u.scale;
  return printf_string(v >= 100 ? "%.0f" : v >= 10 ? "%.1f" : "%.2f", v) + " " + u.name;
}

std::string human_seconds(double s) {
  if (!std::isfinite(s)) return "—";
  const double a = std::fabs(s);
  if (a == 0) return "0 s";
  if (a < 1e-3) return printf_string("%.0f µs", s * 1e6);
  if (a < 1.0) return printf_string(a < 0.01 ? "%.2f ms" : a < 0.1 ? "%.1f ms" : "%.0f ms", s * 1e3);
  if (a < 60.0) return printf_string(a < 10 ? "%.2f s" : "%.1f s", s);
  const double minutes = std::floor(a / 60.0);
  if (minutes < 60.0) return printf_string("%.0f min ", minutes) + printf_string("%.0f s", a - minutes * 60.0);
  const double hours = std::floor(minutes / 60.0);
  return printf_string("%.0f h ", hours) + printf_string("%.0f min", minutes - hours * 60.0);
}

std::string signed_percent(double fraction) {
  if (!std::isfinite(fraction)) return "—";
  return printf_string("%+.1f%%", fraction * 100.0);
}

std::string percent(double fraction) {
  if (!std::isfinite(fraction)) return "—";
  return printf_string("%.1f%%", fraction * 100.0);
}

std::string svg_num(double v, int decimals) {
  if (!std::isfinite(v)) v = 0.0;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  std::string s = buf;
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  if (s == "-0") s = "0";
  return s;
}

}  // namespace strata
