// A per-thread memo of the ids of words already tokenized, for the models whose per-word work
// (BPE merges, Unigram's Viterbi search) costs more than a lookup. Words repeat a lot in text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace salvo {

class WordCache {
 public:
  // Words longer than this are not remembered.
  static constexpr size_t kMaxWordLength = 48;

  // Forgets everything when the cache is taken over by another tokenizer (identified by `owner`).
  void claim(uint64_t owner);
  // Appends the remembered ids of `word` to `ids` and returns true, or returns false.
  bool lookup(std::u32string_view word, std::vector<int32_t>* ids) const;
  // Remembers ids[first, end) as the ids of `word`.
  void store(std::u32string_view word, const std::vector<int32_t>& ids, size_t first);

 private:
  struct Entry {
    uint64_t hash = 0;
    uint32_t key = 0;  // offset in keys_
    uint32_t key_length = 0;
    uint32_t value = 0;  // offset in values_
    uint32_t value_length = 0;
    bool used = false;
  };
  static uint64_t hash_of(std::u32string_view word);
  void clear();

  uint64_t owner_ = 0;
  std::vector<Entry> slots_;
  size_t count_ = 0;
  std::u32string keys_;
  std::vector<int32_t> values_;
};

}  // namespace salvo
