// Text for the HTML report: escaping, and numbers in human units (bytes, seconds, percentages, SVG coordinates).
// Everything that reaches report.html from a file or a name passes through html_escape.
#pragma once
#include <string>

namespace strata {

// Escapes & < > " ' for use in HTML text and attribute values.
std::string html_escape(const std::string& text);

// "12.0 MiB", "1.50 GiB", "512 B" for any non-negative finite value; "—" otherwise.
std::string human_bytes(double bytes);

// "850 µs", "12.3 ms", "1.25 s", "3 min 20 s"; "—" when not finite.
std::string human_seconds(double seconds);

// "+12.3%", "-4.0%" (signed, one decimal); "—" when not finite.
std::string signed_percent(double fraction);

// "42.5%" (one decimal); "—" when not finite.
std::string percent(double fraction);

// A number for an SVG attribute: at most `decimals` decimals, no trailing zeros, never NaN or Inf (0 instead).
std::string svg_num(double v, int decimals = 2);

// The largest binary unit not above `max_bytes` (B, KiB, MiB, GiB, TiB): its size and name.
struct ByteUnit {
  double scale;
  const char* name;
};
ByteUnit byte_unit_for(double max_bytes);

}  // namespace strata
