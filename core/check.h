// Error type and check macros: every failure carries file:line, what was wrong and a hint for the user.
// StrataError is the one exception type the CLI catches and turns into a clear message and non-zero exit.
#pragma once
#include <stdexcept>
#include <string>

namespace strata {

class StrataError : public std::runtime_error {
 public:
  explicit StrataError(const std::string& what) : std::runtime_error(what) {}
};

[[noreturn]] void fail_at(const char* file, int line, const std::string& message);

}  // namespace strata

// STRATA_CHECK(cond, msg): throws StrataError("file:line: msg") when cond is false. msg is any
// expression convertible to std::string, evaluated only on failure.
#define STRATA_CHECK(cond, msg)                                 \
  do {                                                          \
    if (!(cond)) ::strata::fail_at(__FILE__, __LINE__, (msg));  \
  } while (0)

#define STRATA_FAIL(msg) ::strata::fail_at(__FILE__, __LINE__, (msg))
