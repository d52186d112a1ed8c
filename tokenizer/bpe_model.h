// BpeModel: the "BPE" model of a tokenizer.json: vocabulary, merges applied by rank, unk / byte-fallback handling,
// ignore_merges (a word that is itself in the vocabulary is one token) and a bounded, thread-safe word cache.
#pragma once
#include <cstdint>
#include <functional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace strata {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using TokenVocab = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

struct BpeOptions {
  std::string unk_token;  // empty: none (unknown characters are dropped, as HF does)
  bool fuse_unk = false;
  bool byte_fallback = false;  // unknown characters become their <0xXX> byte tokens when the vocab has them
  bool ignore_merges = false;
};

class BpeModel {
 public:
  // `where` prefixes errors (the file). Every merge's two parts and their concatenation must be in `vocab`.
  BpeModel(TokenVocab vocab, const std::vector<std::pair<std::string, std::string>>& merges, BpeOptions options,
           const std::string& where);
  BpeModel(BpeModel&& other) noexcept;

  // Appends the ids of one pre-tokenized (byte-level mapped) word. Thread-safe.
  void tokenize(std::string_view word, std::vector<int32_t>& out) const;
  int32_t token_to_id(std::string_view token) const;  // -1 when absent
  const std::string* id_to_token(int32_t id) const;  // nullptr when absent
  int32_t max_id() const { return static_cast<int32_t>(id_to_token_.size()) - 1; }

  static constexpr size_t kCacheCapacity = 10000;  // words
  static constexpr size_t kCacheMaxWordBytes = 256;

 private:
  struct Merge {
    int32_t rank;
    int32_t new_id;
  };
  static uint64_t pair_key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  void merge_word(std::string_view word, std::vector<int32_t>& out) const;
  void initial_symbols(std::string_view word, std::vector<int32_t>& ids, std::vector<uint32_t>& lens) const;

  TokenVocab vocab_;
  std::vector<std::string> id_to_token_;
  std::vector<bool> has_id_;
  std::unordered_map<uint64_t, Merge> merges_;
  BpeOptions options_;
  int32_t unk_id_ = -1;

  mutable std::shared_mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> cache_;
};

}  // namespace strata
