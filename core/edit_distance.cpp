// Edit distance and closest-name lookup behind the "did you mean" hints of config and command-line errors.
// Pure functions over strings; no tables of names live here (callers pass their candidates).
#include "core/edit_distance.h"

#include <algorithm>
#include <cctype>
#include <cstdint>

namespace strata {

size_t edit_distance(std::string_view a, std::string_view b) {
  const size_t n = a.size(), m = b.size();
  // Three rolling rows: i-2, i-1 and i (the transposition looks two rows back).
  std::vector<size_t> prev2(m + 1), prev(m + 1), cur(m + 1);
  for (size_t j = 0; j <= m; ++j) prev[j] = j;
  for (size_t i = 1; i <= n; ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= m; ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      size_t d = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d = std::min(d, prev2[j - 2] + 1);
      cur[j] = d;
    }
    std::swap(prev2, prev);
    std::swap(prev, cur);
  }
  return prev[m];
}

static std::string normalized(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) out += c == '-' ? '_' : (char)std::tolower((unsigned char)c);
  return out;
}

std::string closest_match(std::string_view word, const std::vector<std::string>& candidates) {
  const std::string w = normalized(word);
  std::string best;
  size_t best_d = SIZE_MAX;
  for (const auto& c : candidates) {
    const std::string n = normalized(c);
    const size_t len = std::max(w.size(), n.size());
    const size_t allowed = len <= 4 ? 1 : len <= 8 ? 2 : 3;
    const size_t d = edit_distance(w, n);
    if (d <= allowed && d < n.size() && d < best_d) {
      best_d = d;
      best = c;
    }
  }
  return best;
}

std::string join_alternatives(const std::vector<std::string>& names, std::string_view last_sep) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? std::string(last_sep) : std::string(", ");
    out += names[i];
  }
  return out;
}

}  // namespace strata
