// SentencePiece tokenizer (a tokenizer.model such as LLaMA-2's) behind the Tokenizer interface, via libsentencepiece.
// Ids match python sentencepiece's sp.encode(text): the model's own normalizer, dummy prefix and byte fallback.
#include <sentencepiece_processor.h>

#include <exception>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/check.h"
#include "tokenizer/tokenizer.h"

namespace strata {
namespace {

// Thread safety: after construction the processor is never modified. SentencePieceProcessor::Encode, Decode,
// PieceToId and the id queries are const and keep no mutable state (only sampling, which we never use, draws from
// a thread-local generator), so one SentencePieceTokenizer may encode and decode from several threads at once.
class SentencePieceTokenizer final : public Tokenizer {
 public:
  explicit SentencePieceTokenizer(const std::string& path)
      : name_("sentencepiece:" + std::filesystem::path(path).filename().string()) {
    // The library throws (std::ios_failure) on a folder instead of returning a status, so folders are caught here.
    std::error_code ec;
    STRATA_USER_CHECK(!std::filesystem::exists(path, ec) || std::filesystem::is_regular_file(path, ec),
                      "SentencePiece model '" + path + "' is not a file: point data.tokenizer at a tokenizer.model");
    std::string why;
    try {
      const auto status = sp_.Load(path);
      if (!status.ok()) why = status.ToString();
    } catch (const std::exception& e) {
      why = e.what();
    }
    for (char& c : why)
      if (c == '\n' || c == '\r') c = ' ';
    while (!why.empty() && why.back() == ' ') why.pop_back();
    STRATA_USER_CHECK(why.empty(), "SentencePiece model '" + path + "' could not be loaded (" + why +
                                       "): check the path and that the file is a SentencePiece tokenizer.model");
    vocab_ = sp_.GetPieceSize();
    bos_ = sp_.bos_id();
    eos_ = sp_.eos_id();
    unk_ = sp_.unk_id();
    STRATA_USER_CHECK(vocab_ > 0,
                      "SentencePiece model '" + path + "' has an empty vocabulary: use another tokenizer.model");
    STRATA_USER_CHECK(bos_ >= 0 && bos_ < vocab_ && eos_ >= 0 && eos_ < vocab_,
                      "SentencePiece model '" + path + "' defines no BOS or EOS piece (bos_id " + std::to_string(bos_) +
                          ", eos_id " + std::to_string(eos_) + "): training needs both; use a model that has them");
  }

  std::string name() const override { return name_; }
  int vocab_size() const override { return vocab_; }
  int bos_id() const override { return bos_; }
  int eos_id() const override { return eos_; }

  void encode(std::string_view text, std::vector<int32_t>& out) const override {
    std::vector<int> ids;
    const auto status = sp_.Encode(text, &ids);
    STRATA_CHECK(status.ok(), name_ + ": encoding failed (" + status.ToString() + ")");
    out.insert(out.end(), ids.begin(), ids.end());
  }

  // BOS/EOS (control pieces) decode to nothing. An id outside the vocabulary (a model with a larger embedding can
  // sample one) decodes as the unknown piece (" \u2047 ") so the text stays valid and the problem stays visible.
  std::string decode(const std::vector<int32_t>& ids) const override {
    std::vector<int> in;
    in.reserve(ids.size());
    for (const int32_t id : ids) {
      if (id >= 0 && id < vocab_) in.push_back(id);
      else if (unk_ >= 0) in.push_back(unk_);
    }
    std::string text;
    const auto status = sp_.Decode(in, &text);
    STRATA_CHECK(status.ok(), name_ + ": decoding failed (" + status.ToString() + ")");
    return text;
  }

  int piece_to_id(const std::string& piece) const override {
    const int id = sp_.PieceToId(piece);
    if (id < 0) return -1;
    if (sp_.IsUnknown(id) && sp_.IdToPiece(id) != piece) return -1;
    return id;
  }

 private:
  sentencepiece::SentencePieceProcessor sp_;
  std::string name_;
  int vocab_ = 0, bos_ = -1, eos_ = -1, unk_ = 0;
};

}  // namespace

std::unique_ptr<Tokenizer> make_sentencepiece_tokenizer(const std::string& path) {
  return std::make_unique<SentencePieceTokenizer>(path);
}

}  // namespace strata
