// Error types and check macros. Two kinds of failure:
//  - UserError (STRATA_USER_CHECK / STRATA_USER_FAIL): about the user's input or environment (a bad flag value, a
//    missing file, a full disk). The message says what was wrong and what to do, with no source location: the
//    user needs no "file.cpp:NNN".
//  - StrataError (STRATA_CHECK / STRATA_FAIL): an internal invariant (a bug), or a check not classified yet; its
//    message starts with "file.cpp:NNN: " so a report points straight at the check.
// UserError derives from StrataError: code that catches StrataError sees both. The CLI prints either as one
// "strata: error: ..." line and exits with status 1.
#pragma once
#include <stdexcept>
#include <string>

namespace strata {

class StrataError : public std::runtime_error {
 public:
  explicit StrataError(const std::string& what) : std::runtime_error(what) {}
};

// An error about the user's input or environment; what() is the message alone, without a source location.
class UserError : public StrataError {
 public:
  explicit UserError(const std::string& what) : StrataError(what) {}
};

// Throws StrataError("file:line: message").
[[noreturn]] void fail_at(const char* file, int line, const std::string& message);
// Throws UserError(message).
[[noreturn]] void user_fail(const std::string& message);

}  // namespace strata

// STRATA_CHECK(cond, msg): throws StrataError("file:line: msg") when cond is false (an internal invariant). msg is
// any expression convertible to std::string, evaluated only on failure.
#define STRATA_CHECK(cond, msg)                                 \
  do {                                                          \
    if (!(cond)) ::strata::fail_at(__FILE__, __LINE__, (msg));  \
  } while (0)

#define STRATA_FAIL(msg) ::strata::fail_at(__FILE__, __LINE__, (msg))

// STRATA_USER_CHECK(cond, msg): throws UserError(msg) when cond is false: for errors in the user's input or
// environment, whose message must say what is wrong and what to do (no source location is added).
#define STRATA_USER_CHECK(cond, msg)                  \
  do {                                                \
    if (!(cond)) ::strata::user_fail((msg));          \
  } while (0)

#define STRATA_USER_FAIL(msg) ::strata::user_fail((msg))
