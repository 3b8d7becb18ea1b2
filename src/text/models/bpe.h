// The BPE model (byte-level or not): a word starts as one symbol per character and the ranked
// merges are applied, lowest rank first, exactly as tokenizers' BPE does without dropout.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "text/models/model.h"
#include "text/token_trie.h"

namespace salvo {

// Options of tokenizer.json's "BPE" model (dropout must be null or 0).
struct BpeOptions {
  std::optional<std::string> unk_token;
  std::string continuing_subword_prefix;  // empty: none
  std::string end_of_word_suffix;         // empty: none
  bool fuse_unk = false;
  bool byte_fallback = false;
  bool ignore_merges = false;
};

// Maps pairs of ids to a value; open addressing, for the merge table.
class IdPairMap {
 public:
  void insert(int32_t a, int32_t b, uint64_t value);
  // The value of (a, b), or nullopt.
  std::optional<uint64_t> find(int32_t a, int32_t b) const {
    if (slots_.empty()) return std::nullopt;
    uint64_t key = pack(a, b);
    size_t mask = slots_.size() - 1;
    for (size_t i = hash(key) & mask;; i = (i + 1) & mask) {
      if (slots_[i].key == key) return slots_[i].value;
      if (slots_[i].key == kEmpty) return std::nullopt;
    }
  }
  size_t size() const { return count_; }

 private:
  struct Slot {
    uint64_t key = kEmpty;
    uint64_t value = 0;
  };
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  static uint64_t pack(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  static size_t hash(uint64_t key) {  // MurmurHash3's finalizer: every key bit moves every bit
    key ^= key >> 33;
    key *= 0xFF51AFD7ED558CCDull;
    key ^= key >> 33;
    return static_cast<size_t>(key);
  }
  std::vector<Slot> slots_;
  size_t count_ = 0;
};

class BpeModel : public TokenizerModel {
 public:
  // `merges` in rank order, each a pair of tokens whose concatenation (the second without
  // continuing_subword_prefix) is a token. Throws salvo::Error(kModel) naming the problem for bad
  // ids, merges of unknown tokens, or merges whose result is not in the vocabulary.
  BpeModel(const std::vector<std::pair<std::string, int32_t>>& vocab,
           const std::vector<std::pair<std::string, std::string>>& merges, BpeOptions options);

  void tokenize(std::u32string_view word, std::vector<int32_t>* ids) const override;
  // The character before which a word can be cut without changing the result (see the
  // constructor), or 0 if there is none.
  char32_t independent_start() const { return independent_start_; }
  int32_t token_to_id(std::string_view token) const override;
  std::string_view id_to_token(int32_t id) const override;
  size_t vocab_size() const override { return vocab_.size(); }
  size_t id_limit() const override { return id_to_token_.size(); }
  const char* name() const override { return "BPE"; }

 private:
  int32_t char_id(char32_t c, int variant) const;
  // merge_word without ignore_merges: the symbols of `word` merged by rank.
  void merge(std::u32string_view word, std::vector<int32_t>* ids) const;

  BpeOptions options_;
  TokenTrie vocab_;
  std::vector<std::string> id_to_token_;
  // Ids of one-character tokens, per variant: bit 0 = with the prefix, bit 1 = with the suffix.
  // Characters below 0x3000 are looked up directly (tables of unused variants stay empty).
  std::vector<int32_t> small_chars_[4];
  TokenTrie other_chars_[4];
  IdPairMap merges_;  // (left id, right id) -> rank << 32 | new id
  int32_t byte_ids_[256];  // ids of "<0xXX>" tokens, or -1
  int32_t unk_id_ = -1;
  std::u32string prefix_;
  std::u32string suffix_;
  char32_t independent_start_ = 0;
  uint64_t serial_ = 0;  // owner of the per-thread cache of pieces
};

}  // namespace salvo
