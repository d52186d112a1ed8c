// Implements the error helpers of check.h: internal errors are prefixed with the source location so a report
// points straight at the check; user errors carry the message alone.
#include "core/check.h"

#include <cstring>

namespace strata {

void fail_at(const char* file, int line, const std::string& message) {
  const char* base = std::strrchr(file, '/');
  throw StrataError(std::string(base ? base + 1 : file) + ":" + std::to_string(line) + ": " + message);
}

void user_fail(const std::string& message) { throw UserError(message); }

}  // namespace strata
