// "Did you mean" for names a user typed: edit distance (with transpositions) and the closest known name.
// Used by the run config for keys, sections and enumerated values; usable by any name lookup that can be mistyped.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace strata {

// Optimal-string-alignment distance (insertions, deletions, substitutions and adjacent transpositions cost 1).
size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word`, or "" when none is close enough to be a likely typo. Comparison ignores case
// and treats '-' as '_'; the allowed distance grows with the length (1 up to 4 characters, 2 up to 8, then 3).
std::string closest_match(std::string_view word, const std::vector<std::string>& candidates);

// "a, b or c" (for messages that list the allowed names).
std::string join_alternatives(const std::vector<std::string>& names, std::string_view last_sep = " or ");

}  // namespace strata
