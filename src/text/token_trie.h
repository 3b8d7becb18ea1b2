// A trie of code point strings with ids, stored as one open-addressing hash table of edges, so
// that the vocabulary tokens starting at a position are found in one walk (no substring hashing).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace salvo {

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
  // Calls f(length, id) for every key that is a prefix of `text`, shortest first.
  template <typename F>
  void for_each_prefix(std::u32string_view text, F f) const {
    uint32_t node = 0;
    for (size_t i = 0; i < text.size(); ++i) {
      node = child(node, text[i]);
      if (node == 0) return;
      if (node_ids_[node] >= 0) f(i + 1, node_ids_[node]);
    }
  }
  // The number of keys.
  size_t size() const { return size_; }

 private:
  struct Edge {
    uint64_t key = kEmpty;  // parent node << 21 | code point
    uint32_t child = 0;
  };
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  static size_t slot_of(uint64_t key, size_t mask) {  // MurmurHash3's finalizer
    key ^= key >> 33;
    key *= 0xFF51AFD7ED558CCDull;
    key ^= key >> 33;
    return static_cast<size_t>(key) & mask;
  }
  uint32_t child(uint32_t node, char32_t cp) const {
    if (edges_.empty()) return 0;
    uint64_t key = (uint64_t{node} << 21) | cp;
    size_t mask = edges_.size() - 1;
    for (size_t i = slot_of(key, mask);; i = (i + 1) & mask) {
      if (edges_[i].key == key) return edges_[i].child;
      if (edges_[i].key == kEmpty) return 0;  // node 0 is the root, never a child
    }
  }
  void grow();

  std::vector<Edge> edges_;
  size_t edge_count_ = 0;
  std::vector<int32_t> node_ids_;  // per node: the id of the key ending there, or -1
  size_t size_ = 0;
};

}  // namespace salvo
