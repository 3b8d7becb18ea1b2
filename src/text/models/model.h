// The model of a tokenizer: turns one pre-tokenized word into vocabulary ids.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace salvo {

class TokenizerModel {
 public:
  virtual ~TokenizerModel() = default;
  // Appends the ids of `word` (never empty) to `ids`. Throws salvo::Error(kInvalidArgument) where
  // the library fails on the input (an unknown character with no unknown token to stand for it).
  virtual void tokenize(std::u32string_view word, std::vector<int32_t>* ids) const = 0;
  // The id of a token (UTF-8), or -1.
  virtual int32_t token_to_id(std::string_view token) const = 0;
  // The token of an id; empty if there is none.
  virtual std::string_view id_to_token(int32_t id) const = 0;
  // The number of tokens (tokenizers' get_vocab_size): added tokens not in the vocabulary get
  // ids from here on.
  virtual size_t vocab_size() const = 0;
  // One more than the largest id.
  virtual size_t id_limit() const = 0;
  // "WordPiece", "BPE" or "Unigram".
  virtual const char* name() const = 0;
  // Whether remembering the ids of frequent words saves time (see WordCache).
  virtual bool worth_caching() const { return true; }
};

// Checks a vocabulary's ids: none negative, none shared by two tokens, none absurdly large.
// Throws salvo::Error(kModel) naming `what` and the offending token.
void check_vocabulary_ids(const std::vector<std::pair<std::string, int32_t>>& vocab,
                          const std::string& what);

}  // namespace salvo
