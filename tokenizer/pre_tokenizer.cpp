// Pre-tokenization as HF tokenizers does it: a Split turns the regex matches of a piece into (range, is_match)
// spans covering it, combines them by the behavior, and drops removed and empty pieces; ByteLevel maps bytes.
#include "tokenizer/pre_tokenizer.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "tokenizer/byte_level_alphabet.h"

namespace strata {

const char* const kGpt2SplitPattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

void PreTokenizer::add_split(UnicodeRegex pattern, SplitBehavior behavior, bool invert) {
  regexes_.push_back(std::make_unique<UnicodeRegex>(std::move(pattern)));
  Step s;
  s.behavior = behavior;
  s.invert = invert;
  s.regex = regexes_.back().get();
  steps_.push_back(s);
}

void PreTokenizer::add_byte_level(bool add_prefix_space, bool use_regex) {
  Step s;
  s.byte_level = true;
  s.add_prefix_space = add_prefix_space;
  s.use_regex = use_regex;
  if (use_regex) {
    regexes_.push_back(std::make_unique<UnicodeRegex>(kGpt2SplitPattern, UnicodeRegex::Syntax::Regex,
                                                      "ByteLevel pre-tokenizer"));
    s.regex = regexes_.back().get();
  }
  steps_.push_back(s);
}

bool PreTokenizer::has_byte_level() const {
  for (const Step& s : steps_)
    if (s.byte_level) return true;
  return false;
}

void PreTokenizer::split(const Step& step, std::string_view piece, std::vector<std::string>& out) const {
  struct Span {
    size_t begin, end;
    bool flag;  // is_match on input; "remove" after combining
  };
  std::vector<std::pair<size_t, size_t>> found;
  step.regex->find_all(piece, found);
  std::vector<Span> spans;
  size_t prev = 0;
  for (const auto& [b, e] : found) {
    if (prev != b) spans.push_back({prev, b, step.invert});
    spans.push_back({b, e, !step.invert});
    prev = e;
  }
  if (prev != piece.size()) spans.push_back({prev, piece.size(), step.invert});

  std::vector<Span> kept;
  bool prev_match = false;
  switch (step.behavior) {
    case SplitBehavior::Isolated:
      for (const Span& s : spans) kept.push_back({s.begin, s.end, false});
      break;
    case SplitBehavior::Removed:
      kept = spans;
      break;
    case SplitBehavior::Contiguous:
      for (const Span& s : spans) {
        if (!kept.empty() && s.flag == prev_match) kept.back().end = s.end;
        else kept.push_back({s.begin, s.end, false});
        prev_match = s.flag;
      }
      break;
    case SplitBehavior::MergedWithPrevious:
      for (const Span& s : spans) {
        if (!kept.empty() && s.flag && !prev_match) kept.back().end = s.end;
        else kept.push_back({s.begin, s.end, false});
        prev_match = s.flag;
      }
      break;
    case SplitBehavior::MergedWithNext:
      for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
        if (!kept.empty() && it->flag && !prev_match) kept.back().begin = it->begin;
        else kept.push_back({it->begin, it->end, false});
        prev_match = it->flag;
      }
      std::reverse(kept.begin(), kept.end());
      break;
  }
  for (const Span& s : kept)
    if (!s.flag && s.end > s.begin) out.emplace_back(piece.substr(s.begin, s.end - s.begin));
}

void PreTokenizer::byte_level(const Step& step, std::string_view piece, std::vector<std::string>& out) const {
  const ByteLevelAlphabet& alphabet = byte_level_alphabet();
  std::string prefixed;
  if (step.add_prefix_space && piece.front() != ' ') {
    prefixed.reserve(piece.size() + 1);
    prefixed += ' ';
    prefixed += piece;
    piece = prefixed;
  }
  if (!step.use_regex) {
    out.emplace_back();
    alphabet.map(piece, out.back());
    return;
  }
  std::vector<std::pair<size_t, size_t>> found;
  step.regex->find_all(piece, found);
  size_t prev = 0;
  const auto emit = [&](size_t b, size_t e) {
    if (e <= b) return;
    out.emplace_back();
    alphabet.map(piece.substr(b, e - b), out.back());
  };
  for (const auto& [b, e] : found) {
    emit(prev, b);
    emit(b, e);
    prev = e;
  }
  emit(prev, piece.size());
}

void PreTokenizer::run(std::string_view text, std::vector<std::string>& words) const {
  std::vector<std::string> cur, next;
  if (text.empty()) return;
  cur.emplace_back(text);
  for (const Step& step : steps_) {
    next.clear();
    for (const std::string& piece : cur) {
      if (piece.empty()) continue;
      if (step.byte_level) byte_level(step, piece, next);
      else split(step, piece, next);
    }
    cur.swap(next);
  }
  for (std::string& w : cur)
    if (!w.empty()) words.push_back(std::move(w));
}

}  // namespace strata
