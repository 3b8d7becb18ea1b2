#include "text/token_trie.h"

namespace salvo {

TokenTrie::TokenTrie() : node_ids_(1, -1) {}

void TokenTrie::grow() {
  std::vector<Edge> old = std::move(edges_);
  edges_.assign(old.empty() ? 256 : old.size() * 2, Edge{});
  size_t mask = edges_.size() - 1;
  for (const Edge& e : old) {
    if (e.key == kEmpty) continue;
    size_t i = slot_of(e.key, mask);
    while (edges_[i].key != kEmpty) i = (i + 1) & mask;
    edges_[i] = e;
  }
}

void TokenTrie::insert(std::u32string_view key, int32_t id) {
  uint32_t node = 0;
  for (char32_t cp : key) {
    uint32_t next = child(node, cp);
    if (next == 0) {
      if ((edge_count_ + 1) * 2 > edges_.size()) grow();
      next = static_cast<uint32_t>(node_ids_.size());
      node_ids_.push_back(-1);
      uint64_t edge_key = (uint64_t{node} << 21) | (cp & 0x1FFFFF);
      size_t mask = edges_.size() - 1;
      size_t i = slot_of(edge_key, mask);
      while (edges_[i].key != kEmpty) i = (i + 1) & mask;
      edges_[i] = Edge{edge_key, next};
      ++edge_count_;
    }
    node = next;
  }
  if (node_ids_[node] < 0) ++size_;
  node_ids_[node] = id;
}

int32_t TokenTrie::find(std::u32string_view key) const {
  uint32_t node = 0;
  for (char32_t cp : key) {
    node = child(node, cp);
    if (node == 0) return -1;
  }
  return node_ids_[node];
}

int32_t TokenTrie::longest_prefix(std::u32string_view text, size_t* length) const {
  int32_t best = -1;
  *length = 0;
  uint32_t node = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    node = child(node, text[i]);
    if (node == 0) break;
    if (node_ids_[node] >= 0) {
      best = node_ids_[node];
      *length = i + 1;
    }
  }
  return best;
}

}  // namespace salvo
