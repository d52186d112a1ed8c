// Unicode NFC (the "NFC" normalizer of tokenizer.json, e.g. Qwen2's) from tables made by tools/make_nfc_tables.py:
// Unicode 14 less what HF tokenizers' older NFC tables lack (98 newer combining marks), so ids match HF's.
#pragma once
#include <string>
#include <string_view>

namespace strata {

// The NFC form of `text`. Bytes that are not UTF-8 are kept as they are and block composition across them.
std::string nfc_normalize(std::string_view text);

}  // namespace strata
