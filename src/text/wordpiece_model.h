// The WordPiece model: greedy longest-match-first splitting of one word into vocabulary ids.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace salvo {

// A trie of code point strings with ids, stored as one open-addressing hash table of edges, so that
// the longest vocabulary token at a position is found in one walk (no substring hashing).
class TokenTrie {
 public:
  TokenTrie();
  // Maps `key` to `id`, replacing an earlier id of the same key.
  void insert(std::u32string_view key, int32_t id);
  // The id of exactly `key`, or -1.
  int32_t find(std::u32string_view key) const;
  // The longest key that is a prefix of `text`: sets *length (code points) and returns its id;
  // returns -1 (and *length = 0) if no key is.
  int32_t longest_prefix(std::u32string_view text, size_t* length) const;
  // The number of keys.
  size_t size() const { return size_; }

 private:
  struct Edge {
    uint64_t key = kEmpty;  // parent node << 21 | code point
    uint32_t child = 0;
  };
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  static size_t slot_of(uint64_t key, size_t mask) {
    return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> 20) & mask;
  }
  uint32_t child(uint32_t node, char32_t cp) const;
  void grow();

  std::vector<Edge> edges_;
  size_t edge_count_ = 0;
  std::vector<int32_t> node_ids_;  // per node: the id of the key ending there, or -1
  size_t size_ = 0;
};

// Options of tokenizer.json's "WordPiece" model.
struct WordPieceOptions {
  std::string unk_token = "[UNK]";
  std::string continuing_subword_prefix = "##";
  size_t max_input_chars_per_word = 100;
};

// Splits words into ids exactly as tokenizers' WordPiece::tokenize does.
class WordPieceModel {
 public:
  // `vocab` pairs UTF-8 tokens with ids; a repeated token keeps its last id. Throws salvo::Error
  // (kModel) if the unk token is not in the vocabulary or an id is negative.
  WordPieceModel(const std::vector<std::pair<std::string, int32_t>>& vocab,
                 WordPieceOptions options);

  // Appends the ids of `word` to `ids`: the longest vocabulary prefix, then the longest
  // continuing_subword_prefix + piece, and so on; the whole word becomes the unk id if some
  // part matches nothing or the word is longer than max_input_chars_per_word.
  void tokenize(std::u32string_view word, std::vector<int32_t>* ids) const;

  // The id of a token (UTF-8), or -1.
  int32_t token_to_id(std::string_view token) const;
  // The token of an id; empty if there is none.
  std::string_view id_to_token(int32_t id) const;
  // One more than the largest id.
  size_t id_limit() const { return id_to_token_.size(); }
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
