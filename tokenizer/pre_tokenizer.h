// PreTokenizer: the pre-tokenization steps of a byte-level BPE tokenizer.json, run in order on every piece: Split
// (a regex or literal with one of HF's five delimiter behaviors, optionally inverted) and ByteLevel.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/unicode_regex.h"

namespace strata {

enum class SplitBehavior { Isolated, Removed, MergedWithPrevious, MergedWithNext, Contiguous };

class PreTokenizer {
 public:
  void add_split(UnicodeRegex pattern, SplitBehavior behavior, bool invert);
  // ByteLevel: prefixes a space to a piece that does not start with one (add_prefix_space), splits it with GPT-2's
  // regex (use_regex) and maps its bytes to the byte-level alphabet.
  void add_byte_level(bool add_prefix_space, bool use_regex);
  bool has_byte_level() const;

  // Appends the words of `text` (non-empty; byte-level mapped by the ByteLevel step) to `words`.
  void run(std::string_view text, std::vector<std::string>& words) const;

 private:
  struct Step {
    bool byte_level = false;
    bool add_prefix_space = false;
    bool use_regex = false;
    SplitBehavior behavior = SplitBehavior::Isolated;
    bool invert = false;
    const UnicodeRegex* regex = nullptr;  // into regexes_ (the split pattern, or GPT-2's for ByteLevel)
  };
  void split(const Step& step, std::string_view piece, std::vector<std::string>& out) const;
  void byte_level(const Step& step, std::string_view piece, std::vector<std::string>& out) const;

  std::vector<Step> steps_;
  std::vector<std::unique_ptr<UnicodeRegex>> regexes_;
};

// GPT-2's pre-tokenization regex (the one ByteLevel uses with use_regex).
extern const char* const kGpt2SplitPattern;

}  // namespace strata
