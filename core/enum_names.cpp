// The one message for a misspelled enumerated name (flags and file fields; the run config words its own with the
// file position and key).
#include "core/enum_names.h"

#include "core/check.h"
#include "core/edit_distance.h"

namespace strata {

void fail_unknown_name(const std::string& what, std::string_view got, const std::vector<std::string>& allowed) {
  const std::string close = closest_match(got, allowed);
  STRATA_USER_FAIL(what + ": '" + std::string(got) + "' is not one of " + join_alternatives(allowed) +
                   (close.empty() ? "" : "; did you mean '" + close + "'?"));
}

}  // namespace strata
