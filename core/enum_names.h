// Names of enumerated values a user spells (config values, command-line flags): each enum declares its table once,
// next to the enum, as `constexpr auto enum_names(E)` (found by argument-dependent lookup); parsing with "did you
// mean", printing, allowed-value lists and the README's key table all come from that one table.
#pragma once
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace strata {

template <class E>
struct EnumName {
  E value;
  std::string_view name;
};

// The table of `E`: std::array<EnumName<E>, N>, declared next to E as
//   constexpr std::array<EnumName<E>, N> enum_names(E) { return {{{E::A, "a"}, {E::B, "b"}}}; }
template <class E>
constexpr auto enum_table() {
  return enum_names(E{});
}

template <class E>
constexpr std::string_view enum_name(E v) {
  for (const auto& n : enum_table<E>())
    if (n.value == v) return n.name;
  return "?";
}

template <class E>
std::vector<std::string> enum_name_list() {
  std::vector<std::string> out;
  for (const auto& n : enum_table<E>()) out.emplace_back(n.name);
  return out;
}

template <class E>
constexpr std::optional<E> enum_from_name(std::string_view s) {
  for (const auto& n : enum_table<E>())
    if (n.name == s) return n.value;
  return std::nullopt;
}

// "<what>: 'x' is not one of a, b or c; did you mean 'b'?" (the suggestion only for a likely typo).
[[noreturn]] void fail_unknown_name(const std::string& what, std::string_view got,
                                    const std::vector<std::string>& allowed);

// Parses a user-typed name of `E` (a flag value, a field of a file); throws naming `what` for anything else.
template <class E>
E parse_enum(std::string_view s, const std::string& what) {
  if (const auto v = enum_from_name<E>(s)) return *v;
  fail_unknown_name(what, s, enum_name_list<E>());
}

}  // namespace strata
