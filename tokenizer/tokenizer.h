// Tokenizer interface and the built-in byte-level tokenizer (ids 0..255 are bytes, then BOS and EOS).
// SentencePiece and HF byte-level BPE tokenizers implement the same interface (make_tokenizer picks one).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace strata {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual std::string name() const = 0;
  virtual int vocab_size() const = 0;  // ids are in [0, vocab_size)
  virtual int bos_id() const = 0;
  virtual int eos_id() const = 0;
  // Appends the ids of `text` (no BOS/EOS) to `out`.
  virtual void encode(std::string_view text, std::vector<int32_t>& out) const = 0;
  virtual std::string decode(const std::vector<int32_t>& ids) const = 0;
  // Id of a special or added token given by its text ("<|im_start|>", "</s>"); -1 when the vocabulary has none.
  virtual int piece_to_id(const std::string& piece) const { (void)piece; return -1; }
};

// Byte-level: id = byte value (0..255), BOS = 256, EOS = 257; vocab 258.
class ByteTokenizer final : public Tokenizer {
 public:
  std::string name() const override { return "byte"; }
  int vocab_size() const override { return 258; }
  int bos_id() const override { return 256; }
  int eos_id() const override { return 257; }
  void encode(std::string_view text, std::vector<int32_t>& out) const override;
  std::string decode(const std::vector<int32_t>& ids) const override;
};

// By spec: "byte"; a SentencePiece tokenizer.model; an HF tokenizer.json; or a folder holding one of them (a model
// folder). Errors name the key data.tokenizer and the file.
std::unique_ptr<Tokenizer> make_tokenizer(const std::string& spec);
// SentencePiece model file (libsentencepiece); BOS/EOS from the model.
std::unique_ptr<Tokenizer> make_sentencepiece_tokenizer(const std::string& path);
// HF tokenizer.json with a byte-level BPE model (GPT-2 / LLaMA-3 / Qwen2 style); BOS/EOS from the added tokens
// ("<s>", "</s>", "<|begin_of_text|>", "<|endoftext|>", ...) when present.
std::unique_ptr<Tokenizer> make_bpe_tokenizer(const std::string& path);

}  // namespace strata
