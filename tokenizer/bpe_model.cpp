// BPE merging: from one symbol per character, merge the pair with the lowest rank (leftmost among equals) until no
// pair has a merge; a min-heap of candidates over a linked list of symbols, stale candidates skipped: O(n log n).
#include "tokenizer/bpe_model.h"

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <queue>

#include "core/check.h"
#include "tokenizer/utf8.h"

namespace strata {

BpeModel::BpeModel(TokenVocab vocab, const std::vector<std::pair<std::string, std::string>>& merges,
                   BpeOptions options, const std::string& where)
    : vocab_(std::move(vocab)), options_(std::move(options)) {
  int32_t max_id = -1;
  for (const auto& [token, id] : vocab_) {
    STRATA_USER_CHECK(id >= 0, where + ": model.vocab[\"" + token + "\"] is negative (" + std::to_string(id) +
                                   "); token ids must be >= 0");
    max_id = std::max(max_id, id);
  }
  id_to_token_.resize(static_cast<size_t>(max_id + 1));
  has_id_.assign(static_cast<size_t>(max_id + 1), false);
  for (const auto& [token, id] : vocab_) {
    id_to_token_[id] = token;
    has_id_[id] = true;
  }
  merges_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [a, b] = merges[rank];
    const auto missing = [&](const std::string& t) {
      return where + ": model.merges[" + std::to_string(rank) + "] uses \"" + t +
             "\", which is not in model.vocab; the file is inconsistent (re-export the tokenizer)";
    };
    const int32_t ia = token_to_id(a), ib = token_to_id(b), ic = token_to_id(a + b);
    STRATA_USER_CHECK(ia >= 0, missing(a));
    STRATA_USER_CHECK(ib >= 0, missing(b));
    STRATA_USER_CHECK(ic >= 0, missing(a + b));
    merges_[pair_key(ia, ib)] = Merge{static_cast<int32_t>(rank), ic};  // a repeated pair keeps its last rank
  }
  if (!options_.unk_token.empty()) unk_id_ = token_to_id(options_.unk_token);
}

BpeModel::BpeModel(BpeModel&& other) noexcept
    : vocab_(std::move(other.vocab_)),
      id_to_token_(std::move(other.id_to_token_)),
      has_id_(std::move(other.has_id_)),
      merges_(std::move(other.merges_)),
      options_(std::move(other.options_)),
      unk_id_(other.unk_id_) {}

int32_t BpeModel::token_to_id(std::string_view token) const {
  const auto it = vocab_.find(token);
  return it == vocab_.end() ? -1 : it->second;
}

const std::string* BpeModel::id_to_token(int32_t id) const {
  if (id < 0 || id > max_id() || !has_id_[id]) return nullptr;
  return &id_to_token_[id];
}

// One symbol per character (UTF-8 sequence) of the word; unknown characters become byte-fallback tokens, or the
// unk token (consecutive ones fused with fuse_unk), or nothing when there is no unk token.
void BpeModel::initial_symbols(std::string_view word, std::vector<int32_t>& ids, std::vector<uint32_t>& lens) const {
  int32_t pending_unk_len = 0;  // bytes of the unk symbol not yet emitted (0: none)
  const auto flush_unk = [&] {
    if (pending_unk_len > 0) {
      ids.push_back(unk_id_);
      lens.push_back(static_cast<uint32_t>(pending_unk_len));
      pending_unk_len = 0;
    }
  };
  for (size_t pos = 0; pos < word.size();) {
    const size_t len = utf8::decode(word, pos).len;
    const std::string_view ch = word.substr(pos, len);
    pos += len;
    if (const int32_t id = token_to_id(ch); id >= 0) {
      flush_unk();
      ids.push_back(id);
      lens.push_back(static_cast<uint32_t>(len));
      continue;
    }
    if (options_.byte_fallback) {
      std::vector<int32_t> bytes;
      for (const char c : ch) {
        char name[8];
        std::snprintf(name, sizeof(name), "<0x%02X>", static_cast<unsigned>(static_cast<unsigned char>(c)));
        const int32_t id = token_to_id(name);
        if (id < 0) break;
        bytes.push_back(id);
      }
      if (bytes.size() == ch.size()) {
        // HF adds these without emitting a pending unk first (it stays pending).
        for (const int32_t id : bytes) {
          ids.push_back(id);
          lens.push_back(1);
        }
        continue;
      }
    }
    if (options_.unk_token.empty()) continue;
    STRATA_USER_CHECK(unk_id_ >= 0, "tokenizer.json: model.unk_token \"" + options_.unk_token +
                                        "\" is not in model.vocab but the text has a character the vocab lacks; fix "
                                        "the file's unk_token");
    if (pending_unk_len > 0 && !options_.fuse_unk) flush_unk();
    pending_unk_len += static_cast<int32_t>(len);
  }
  flush_unk();
}

void BpeModel::merge_word(std::string_view word, std::vector<int32_t>& out) const {
  std::vector<int32_t> ids;
  std::vector<uint32_t> lens;
  initial_symbols(word, ids, lens);
  const int n = static_cast<int>(ids.size());
  std::vector<int> prev(n), next(n);
  for (int i = 0; i < n; ++i) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  struct Candidate {
    int32_t rank;
    int pos;
    int32_t new_id;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> heap;
  const auto push = [&](int left) {
    const int right = next[left];
    if (right < 0) return;
    const auto it = merges_.find(pair_key(ids[left], ids[right]));
    if (it != merges_.end()) heap.push({it->second.rank, left, it->second.new_id});
  };
  for (int i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    const Candidate top = heap.top();
    heap.pop();
    const int left = top.pos;
    if (lens[left] == 0 || next[left] < 0) continue;  // absorbed, or now the last symbol
    const int right = next[left];
    const auto it = merges_.find(pair_key(ids[left], ids[right]));
    if (it == merges_.end() || it->second.new_id != top.new_id) continue;  // stale candidate
    ids[left] = top.new_id;
    lens[left] += lens[right];
    lens[right] = 0;
    next[left] = next[right];
    if (next[left] >= 0) prev[next[left]] = left;
    if (prev[left] >= 0) push(prev[left]);
    push(left);
  }
  for (int i = 0; i < n; ++i)
    if (lens[i] != 0) out.push_back(ids[i]);
}

void BpeModel::tokenize(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (options_.ignore_merges) {
    if (const int32_t id = token_to_id(word); id >= 0) {
      out.push_back(id);
      return;
    }
  }
  const bool cacheable = word.size() < kCacheMaxWordBytes;
  if (cacheable) {
    std::shared_lock lock(cache_mutex_);
    if (const auto it = cache_.find(word); it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const size_t start = out.size();
  merge_word(word, out);
  if (cacheable) {
    std::unique_lock lock(cache_mutex_);
    if (cache_.size() < kCacheCapacity)
      cache_.emplace(std::string(word), std::vector<int32_t>(out.begin() + static_cast<ptrdiff_t>(start), out.end()));
  }
}

}  // namespace strata
