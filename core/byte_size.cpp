// parse_byte_size: number (integer or decimal) followed by an optional SI or IEC unit.
#include "core/byte_size.h"

#include <cctype>
#include <cmath>
#include <cstdlib>

#include "core/check.h"

namespace strata {

size_t parse_byte_size(const std::string& text, const std::string& what) {
  const std::string hint = what + ": '" + text + "' is not a size; write a number with an optional unit (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB), e.g. 4096, 2.5e10, 512MiB, 24 GiB or 5GB";
  size_t i = 0;
  while (i < text.size() && std::isspace((unsigned char)text[i])) ++i;
  STRATA_USER_CHECK(i < text.size() && (std::isdigit((unsigned char)text[i]) || text[i] == '.'), hint);
  char* end = nullptr;
  const double value = std::strtod(text.c_str() + i, &end);  // decimals and exponents: 1.5GB, 2.5e10
  STRATA_USER_CHECK(end && end != text.c_str() + i && value >= 0, hint);
  const std::string too_large = what + ": '" + text + "' is too large; a size must be below 8 EiB (2^63 bytes)";
  STRATA_USER_CHECK(std::isfinite(value), too_large);  // e.g. 1e400 (strtod overflows to infinity)
  i = (size_t)(end - text.c_str());
  while (i < text.size() && std::isspace((unsigned char)text[i])) ++i;
  std::string unit;
  for (; i < text.size(); ++i) unit += (char)std::tolower((unsigned char)text[i]);
  double mult;
  if (unit.empty() || unit == "b") mult = 1;
  else if (unit == "kb" || unit == "k") mult = 1e3;
  else if (unit == "mb" || unit == "m") mult = 1e6;
  else if (unit == "gb" || unit == "g") mult = 1e9;
  else if (unit == "tb" || unit == "t") mult = 1e12;
  else if (unit == "kib") mult = 1024.0;
  else if (unit == "mib") mult = 1024.0 * 1024;
  else if (unit == "gib") mult = 1024.0 * 1024 * 1024;
  else if (unit == "tib") mult = 1024.0 * 1024 * 1024 * 1024;
  else STRATA_USER_FAIL(what + ": unknown unit '" + unit + "' in '" + text + "'; use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB");
  const double bytes = value * mult;
  // Checked before converting: llround returns a signed 64-bit count and is undefined past it (1e19 bytes does not
  // fit). 2^63 is exact in a double.
  STRATA_USER_CHECK(bytes < 9223372036854775808.0, too_large);
  return (size_t)std::llround(bytes);
}

}  // namespace strata
