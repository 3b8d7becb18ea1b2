// The BERT WordPiece tokenizer, matching Hugging Face `tokenizers` for single sequences.
//
// One encode() runs, in the library's order: added-token matching on the raw text (e.g. a literal
// "[SEP]"), BertNormalizer, added-token matching on the normalized text, BertPreTokenizer,
// WordPiece, truncation, and the post-processor's special tokens.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string_view>
#include <vector>

#include "salvo/types.h"

namespace salvo {

class Tokenizer {
 public:
  // Loads a Hugging Face tokenizer.json (BertNormalizer, BertPreTokenizer, WordPiece,
  // TemplateProcessing or BertProcessing post-processor, truncation). Throws salvo::Error(kModel)
  // naming the file and the problem for anything missing, malformed or unsupported (e.g. a BPE
  // model: name the model type).
  static Tokenizer from_tokenizer_json(const std::filesystem::path& path);
  // Loads a bare vocab.txt with BertTokenizer's defaults (clean text, Chinese chars, strip accents
  // following lowercase, [CLS] X [SEP], [UNK], "##", max 100 chars per word).
  static Tokenizer from_vocab_txt(const std::filesystem::path& path, bool lowercase);
  // tokenizer.json in `dir` if present; else vocab.txt with do_lower_case from
  // tokenizer_config.json (default true).
  static Tokenizer from_model_dir(const std::filesystem::path& dir);

  // Encodes one text into `out` (reusing its capacity). Thread-safe (const). `text` is expected to
  // be valid UTF-8 (the pipeline validates first) but invalid bytes must never crash or loop: treat
  // them as U+FFFD.
  void encode(std::string_view text, Encoding* out) const;

  // Maximum ids per encoding including special tokens; 0 = no truncation. Initially
  // tokenizer.json's truncation.max_length (0 if truncation is null); the pipeline sets the model's
  // limit when it is 0.
  size_t max_length() const;
  void set_max_length(size_t max_length);
  int32_t pad_id() const;     // from tokenizer.json padding.pad_id, else the id of "[PAD]", else 0
  size_t vocab_size() const;  // one more than the largest id (model vocabulary and added tokens)
  // The token string of an id (for debugging and tests); empty for an unknown id.
  std::string_view id_to_token(int32_t id) const;

  // The number of special tokens the post-processor adds to a single sequence.
  size_t num_special_tokens() const;

  // The parsed configuration; defined in tokenizer.cc.
  struct Config;

 private:
  explicit Tokenizer(std::shared_ptr<const Config> config);

  std::shared_ptr<const Config> config_;
  size_t max_length_ = 0;
};

}  // namespace salvo
