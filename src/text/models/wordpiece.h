// The WordPiece model: greedy longest-match-first splitting of one word into vocabulary ids.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "text/models/model.h"
#include "text/token_trie.h"

namespace salvo {

// Options of tokenizer.json's "WordPiece" model.
struct WordPieceOptions {
  std::string unk_token = "[UNK]";
  std::string continuing_subword_prefix = "##";
  size_t max_input_chars_per_word = 100;
};

// Splits words into ids exactly as tokenizers' WordPiece::tokenize does.
class WordPieceModel : public TokenizerModel {
 public:
  // `vocab` pairs UTF-8 tokens with ids; a repeated token keeps its last id. Throws salvo::Error
  // (kModel) if the unk token is not in the vocabulary or an id is negative or repeated.
  WordPieceModel(const std::vector<std::pair<std::string, int32_t>>& vocab,
                 WordPieceOptions options);

  // Appends the ids of `word` to `ids`: the longest vocabulary prefix, then the longest
  // continuing_subword_prefix + piece, and so on; the whole word becomes the unk id if some
  // part matches nothing or the word is longer than max_input_chars_per_word.
  void tokenize(std::u32string_view word, std::vector<int32_t>* ids) const override;

  int32_t token_to_id(std::string_view token) const override;
  std::string_view id_to_token(int32_t id) const override;
  size_t vocab_size() const override { return word_start_.size(); }
  size_t id_limit() const override { return id_to_token_.size(); }
  const char* name() const override { return "WordPiece"; }
  bool worth_caching() const override { return false; }  // one trie walk is as fast
  int32_t unk_id() const { return unk_id_; }
  const WordPieceOptions& options() const { return options_; }

 private:
  WordPieceOptions options_;
  TokenTrie word_start_;    // every token, as it may begin a word
  TokenTrie continuation_;  // tokens starting with the prefix, keyed without it
  std::vector<std::string> id_to_token_;
  int32_t unk_id_ = -1;
};

}  // namespace salvo
