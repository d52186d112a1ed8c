// Implements the error helpers of check.h.
// Messages are prefixed with the source location so a user report points straight at the check.
#include "core/check.h"

#include <cstring>

namespace strata {

void fail_at(const char* file, int line, const std::string& message) {
  const char* base = std::strrchr(file, '/');
  throw StrataError(std::string(base ? base + 1 : file) + ":" + std::to_string(line) + ": " + message);
}

}  // namespace strata
