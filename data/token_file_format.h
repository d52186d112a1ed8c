// Constants and little-endian helpers of the token file format (.tok) that dataset_readers.h documents, shared by
// the writer (token_file_writer.cpp) and the reader (token_file.cpp).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace strata::token_file {

inline constexpr char kMagic[8] = {'S', 'T', 'R', 'T', 'O', 'K', 'S', '\0'};
inline constexpr uint32_t kVersion = 1;
inline constexpr uint32_t kFlagMask = 1;  // a loss mask follows the ids
inline constexpr size_t kHeaderBytes = 40;

inline void put_le(std::vector<unsigned char>& b, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) b.push_back(static_cast<unsigned char>(v >> (8 * i)));
}
inline uint64_t get_le(const unsigned char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

}  // namespace strata::token_file
