// Parsing and printing byte sizes as users write them: "5GB" (10^9), "48GiB" (2^30), "512MiB", "4096".
// Used by CLI flags and config keys; errors name the option that held the bad value.
#pragma once
#include <cstddef>
#include <string>

namespace strata {

// Parses `text` ("123", "1.5GB", "48GiB", "64 KiB", case-insensitive units B, KB, MB, GB, TB, KiB, MiB, GiB, TiB).
// `what` names the option or key in the error, e.g. "--max-shard-size".
size_t parse_byte_size(const std::string& text, const std::string& what);

}  // namespace strata
