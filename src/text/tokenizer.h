// A Hugging Face tokenizer.json pipeline, matching the `tokenizers` library id for id.
//
// One encode() runs, in the library's order: added-token matching on the raw text (e.g. a literal
// "[SEP]"), the normalizer (BertNormalizer, NFC/NFD/NFKC/NFKD, Lowercase, StripAccents, Strip,
// Replace, Prepend, Precompiled, Sequence...), added-token matching on the normalized text, the
// pre-tokenizer (BertPreTokenizer, ByteLevel, Metaspace, Whitespace, Split, ...), the model
// (WordPiece, BPE, Unigram), truncation, and the post-processor's special tokens and type ids.
// Anything tokenizer.json asks for that is not implemented is refused when loading.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "salvo/types.h"

namespace salvo {

class Tokenizer {
 public:
  // Loads a Hugging Face tokenizer.json. Throws salvo::Error(kModel) naming the file, the
  // component and the problem for anything missing, malformed or unsupported.
  static Tokenizer from_tokenizer_json(const std::filesystem::path& path);
  // Loads a bare vocab.txt with BertTokenizer's defaults (clean text, Chinese chars, strip accents
  // following lowercase, [CLS] X [SEP], [UNK], "##", max 100 chars per word).
  static Tokenizer from_vocab_txt(const std::filesystem::path& path, bool lowercase);
  // tokenizer.json in `dir` if present; else vocab.txt with do_lower_case from
  // tokenizer_config.json (default true). A folder with only a SentencePiece model or only
  // vocab.json + merges.txt is refused: those need a tokenizer.json.
  static Tokenizer from_model_dir(const std::filesystem::path& dir);

  // Encodes one text into `out` (reusing its capacity). Thread-safe (const). Invalid UTF-8 bytes
  // are read as U+FFFD. Throws salvo::Error(kInvalidArgument) only where the library fails on the
  // text (e.g. an only_second truncation strategy with a single text that is too long).
  void encode(std::string_view text, Encoding* out) const;
  // Encodes a pair (e.g. query and passage for a cross-encoder): the post-processor's pair
  // template, type ids, and truncation of the pair by the tokenizer's strategy.
  void encode_pair(std::string_view first, std::string_view second, Encoding* out) const;

  // Maximum ids per encoding including special tokens; 0 = no truncation. Initially
  // tokenizer.json's truncation.max_length (0 if truncation is null); the pipeline sets the model's
  // limit when it is 0. Truncation follows tokenizer.json's strategy and direction (default
  // longest_first, right).
  size_t max_length() const;
  void set_max_length(size_t max_length);
  // padding.pad_id from tokenizer.json, else the id of "[PAD]" or "<pad>", else 0.
  int32_t pad_id() const;
  // One more than the largest id (model vocabulary and added tokens).
  size_t vocab_size() const;
  // The token string of an id; empty for an unknown id.
  std::string_view id_to_token(int32_t id) const;
  // The id of a token string (added tokens first, then the model's vocabulary), or -1.
  int32_t token_to_id(std::string_view token) const;
  // The number of special tokens the post-processor adds to a single text or a pair.
  size_t num_special_tokens(bool pair = false) const;
  // A short summary such as "BPE (ByteLevel), RobertaProcessing".
  std::string describe() const;

  // The parsed configuration; defined in tokenizer_config.h.
  struct Config;

 private:
  explicit Tokenizer(std::shared_ptr<const Config> config);

  std::shared_ptr<const Config> config_;
  size_t max_length_ = 0;
};

}  // namespace salvo
