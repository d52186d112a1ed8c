// PCRE2 behind UnicodeRegex: compiled once with JIT; each call makes its own match data, and a match that runs out
// of the JIT's default stack is retried with a large JIT stack made for that call.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/unicode_regex.h"

#include <pcre2.h>

#include "core/check.h"
#include "tokenizer/utf8.h"

namespace strata {

namespace {

std::string pcre2_message(int code) {
  PCRE2_UCHAR buf[256];
  pcre2_get_error_message(code, buf, sizeof(buf));
  return reinterpret_cast<const char*>(buf);
}

struct MatchData {
  explicit MatchData(const pcre2_code* code) : md(pcre2_match_data_create_from_pattern(code, nullptr)) {
    STRATA_CHECK(md != nullptr, "out of memory creating PCRE2 match data");
  }
  ~MatchData() {
    pcre2_match_context_free(ctx);
    pcre2_jit_stack_free(stack);
    pcre2_match_data_free(md);
  }
  MatchData(const MatchData&) = delete;
  MatchData& operator=(const MatchData&) = delete;
  pcre2_match_data* md;
  pcre2_match_context* ctx = nullptr;
  pcre2_jit_stack* stack = nullptr;
};

}  // namespace

std::string translate_oniguruma_pattern(std::string_view pattern) {
  std::string out;
  out.reserve(pattern.size() + 16);
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '\\' || i + 1 == pattern.size()) {
      out += pattern[i];
      continue;
    }
    const char next = pattern[++i];
    if (next == 's') out += "\\p{White_Space}";
    else if (next == 'S') out += "\\P{White_Space}";
    else {
      out += '\\';
      out += next;
    }
  }
  return out;
}

struct UnicodeRegex::Impl {
  pcre2_code* code = nullptr;
  std::string where;
  ~Impl() { pcre2_code_free(code); }

  // pcre2_match with the JIT stack fallback; returns the PCRE2 result code.
  int match(std::string_view text, size_t start, uint32_t options, MatchData& data) const {
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    int rc = pcre2_match(code, subject, text.size(), start, options, data.md, data.ctx);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT && data.stack == nullptr) {
      data.stack = pcre2_jit_stack_create(64 * 1024, 64 * 1024 * 1024, nullptr);
      data.ctx = pcre2_match_context_create(nullptr);
      STRATA_CHECK(data.stack != nullptr && data.ctx != nullptr, "out of memory creating a PCRE2 JIT stack");
      pcre2_jit_stack_assign(data.ctx, nullptr, data.stack);
      rc = pcre2_match(code, subject, text.size(), start, options, data.md, data.ctx);
    }
    STRATA_USER_CHECK(rc >= 0 || rc == PCRE2_ERROR_NOMATCH, where + ": regex matching failed (" + pcre2_message(rc) +
                                                                ") on a text of " + std::to_string(text.size()) +
                                                                " bytes; simplify the pattern or split the text");
    return rc;
  }
};

UnicodeRegex::UnicodeRegex(const std::string& pattern, Syntax syntax, const std::string& where)
    : impl_(std::make_unique<Impl>()) {
  impl_->where = where;
  uint32_t options = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
  std::string source = pattern;
  if (syntax == Syntax::Literal) options |= PCRE2_LITERAL;  // (PCRE2_UCP is not allowed with it, nor needed)
  else {
    options |= PCRE2_UCP;
    source = translate_oniguruma_pattern(pattern);
  }
  int err = 0;
  PCRE2_SIZE offset = 0;
  impl_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(source.data()), source.size(), options, &err, &offset,
                              nullptr);
  STRATA_USER_CHECK(impl_->code != nullptr, where + ": the regex \"" + pattern + "\" does not compile with PCRE2 (" +
                                                pcre2_message(err) + " at offset " + std::to_string(offset) +
                                                "); rewrite it in PCRE2 syntax");
  // JIT is an optimisation: without it (unsupported CPU, no executable memory) the interpreter is used.
  (void)pcre2_jit_compile(impl_->code, PCRE2_JIT_COMPLETE);
}

UnicodeRegex::~UnicodeRegex() = default;
UnicodeRegex::UnicodeRegex(UnicodeRegex&&) noexcept = default;
UnicodeRegex& UnicodeRegex::operator=(UnicodeRegex&&) noexcept = default;

void UnicodeRegex::find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const {
  MatchData data(impl_->code);
  size_t search = 0;
  bool have_last = false;
  size_t last_end = 0;
  while (search <= text.size()) {
    if (impl_->match(text, search, 0, data) == PCRE2_ERROR_NOMATCH) break;
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(data.md);
    const size_t begin = ov[0], end = ov[1];
    if (begin == end && have_last && last_end == end) {
      // An empty match right after the previous one: step one character on (as Oniguruma's find_iter does).
      if (search >= text.size()) break;
      search += utf8::decode(text, search).len;
      continue;
    }
    out.emplace_back(begin, end);
    search = end;
    have_last = true;
    last_end = end;
  }
}

bool UnicodeRegex::matches_at(std::string_view text, size_t pos) const {
  MatchData data(impl_->code);
  return impl_->match(text, pos, PCRE2_ANCHORED, data) >= 0;
}

}  // namespace strata
