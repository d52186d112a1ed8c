// NFC: decompose every character fully (Hangul syllables algorithmically), sort each run of non-starters by
// combining class (stable), then compose each character with the last starter unless something blocks it.
#include "tokenizer/unicode_nfc.h"

#include <cstdint>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tokenizer/utf8.h"

namespace strata {

namespace {

struct NfcCombiningRange {
  char32_t first, last;
  uint8_t ccc;
};
struct NfcDecomposition {
  char32_t cp, first, second;
  uint8_t composite;
};
#include "tokenizer/unicode_nfc_tables.inc"

constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr char32_t kLCount = 19, kVCount = 21, kTCount = 28, kSCount = kLCount * kVCount * kTCount;

class NfcTables {
 public:
  NfcTables() {
    for (const auto& r : kNfcCombiningClasses)
      for (char32_t c = r.first; c <= r.last; ++c) ccc_[c] = r.ccc;
    for (const auto& d : kNfcDecompositions) {
      decomp_[d.cp] = {d.first, d.second};
      if (d.composite) compose_[key(d.first, d.second)] = d.cp;
    }
  }
  uint8_t ccc(char32_t c) const {
    if (c < 0x300) return 0;
    const auto it = ccc_.find(c);
    return it == ccc_.end() ? 0 : it->second;
  }
  void decompose(char32_t c, std::vector<char32_t>& out) const {
    if (c >= kSBase && c < kSBase + kSCount) {
      const char32_t s = c - kSBase;
      out.push_back(kLBase + s / (kVCount * kTCount));
      out.push_back(kVBase + (s % (kVCount * kTCount)) / kTCount);
      if (s % kTCount != 0) out.push_back(kTBase + s % kTCount);
      return;
    }
    const auto it = decomp_.find(c);
    if (it == decomp_.end()) {
      out.push_back(c);
      return;
    }
    decompose(it->second.first, out);
    if (it->second.second != 0) decompose(it->second.second, out);
  }
  // The primary composite of a + b, or 0.
  char32_t compose(char32_t a, char32_t b) const {
    if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount)
      return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
    if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase && b < kTBase + kTCount)
      return a + (b - kTBase);
    const auto it = compose_.find(key(a, b));
    return it == compose_.end() ? 0 : it->second;
  }

 private:
  static uint64_t key(char32_t a, char32_t b) { return (static_cast<uint64_t>(a) << 32) | b; }
  std::unordered_map<char32_t, uint8_t> ccc_;
  std::unordered_map<char32_t, std::pair<char32_t, char32_t>> decomp_;
  std::unordered_map<uint64_t, char32_t> compose_;
};

const NfcTables& tables() {
  static const NfcTables t;
  return t;
}

void normalize_run(const std::vector<char32_t>& run, std::string& out) {
  const NfcTables& t = tables();
  std::vector<char32_t> d;
  d.reserve(run.size() + 8);
  for (const char32_t c : run) t.decompose(c, d);
  for (size_t i = 1; i < d.size(); ++i)  // canonical ordering: stable insertion sort inside non-starter runs
    for (size_t j = i; j > 0 && t.ccc(d[j]) != 0 && t.ccc(d[j - 1]) > t.ccc(d[j]); --j) std::swap(d[j], d[j - 1]);
  std::vector<char32_t> c;
  c.reserve(d.size());
  ptrdiff_t starter = -1;
  uint8_t last_ccc = 0;  // combining class of c.back()
  for (const char32_t ch : d) {
    const uint8_t cc = t.ccc(ch);
    if (starter >= 0) {
      const bool adjacent = static_cast<ptrdiff_t>(c.size()) - 1 == starter;
      if (adjacent || (last_ccc != 0 && last_ccc < cc)) {
        if (const char32_t comp = t.compose(c[starter], ch); comp != 0) {
          c[starter] = comp;
          continue;
        }
      }
    }
    if (cc == 0) starter = static_cast<ptrdiff_t>(c.size());
    c.push_back(ch);
    last_ccc = cc;
  }
  for (const char32_t ch : c) utf8::append(out, ch);
}

}  // namespace

std::string nfc_normalize(std::string_view text) {
  bool simple = true;  // only code points below U+0300: nothing decomposes differently or composes
  for (const char ch : text) simple = simple && static_cast<unsigned char>(ch) < 0xCC;
  if (simple) return std::string(text);
  std::string out;
  out.reserve(text.size());
  std::vector<char32_t> run;
  for (size_t pos = 0; pos < text.size();) {
    const utf8::Decoded d = utf8::decode(text, pos);
    if (d.valid) {
      run.push_back(d.cp);
    } else {
      normalize_run(run, out);
      run.clear();
      out.append(text.substr(pos, d.len));
    }
    pos += d.len;
  }
  normalize_run(run, out);
  return out;
}

}  // namespace strata
