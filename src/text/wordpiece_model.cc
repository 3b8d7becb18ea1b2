#include "text/wordpiece_model.h"

#include "core/error.h"
#include "text/unicode.h"

namespace salvo {

TokenTrie::TokenTrie() : node_ids_(1, -1) {}

uint32_t TokenTrie::child(uint32_t node, char32_t cp) const {
  if (edges_.empty()) return 0;
  uint64_t key = (uint64_t{node} << 21) | cp;
  size_t mask = edges_.size() - 1;
  for (size_t i = slot_of(key, mask);; i = (i + 1) & mask) {
    if (edges_[i].key == key) return edges_[i].child;
    if (edges_[i].key == kEmpty) return 0;  // node 0 is the root, never a child
  }
}

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
      uint64_t edge_key = (uint64_t{node} << 21) | cp;
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

WordPieceModel::WordPieceModel(const std::vector<std::pair<std::string, int32_t>>& vocab,
                               WordPieceOptions options)
    : options_(std::move(options)) {
  std::u32string prefix;
  decode_utf8(options_.continuing_subword_prefix, &prefix);
  std::u32string key;
  for (const auto& [token, id] : vocab) {
    if (id < 0) {
      throw Error(ErrorCode::kModel, "WordPiece vocabulary: token '" + token +
                                         "' has a negative id " + std::to_string(id));
    }
    key.clear();
    decode_utf8(token, &key);
    word_start_.insert(key, id);
    if (std::u32string_view(key).substr(0, prefix.size()) == prefix) {
      continuation_.insert(std::u32string_view(key).substr(prefix.size()), id);
    }
    if (static_cast<size_t>(id) >= id_to_token_.size()) id_to_token_.resize(id + 1);
    id_to_token_[id] = token;
  }
  unk_id_ = word_start_.find([&] {
    std::u32string unk;
    decode_utf8(options_.unk_token, &unk);
    return unk;
  }());
  if (unk_id_ < 0) {
    throw Error(ErrorCode::kModel,
                "WordPiece vocabulary has no unk_token '" + options_.unk_token + "'");
  }
}

void WordPieceModel::tokenize(std::u32string_view word, std::vector<int32_t>* ids) const {
  size_t n = word.size();
  if (n > options_.max_input_chars_per_word) {
    ids->push_back(unk_id_);
    return;
  }
  size_t mark = ids->size();
  size_t start = 0;
  while (start < n) {
    // The library tries ever shorter candidates from the end of the word and takes the first in
    // the vocabulary: that is the longest vocabulary key starting here, which one trie walk finds.
    const TokenTrie& trie = start == 0 ? word_start_ : continuation_;
    size_t length = 0;
    int32_t found = trie.longest_prefix(word.substr(start), &length);
    if (found < 0 || length == 0) {
      ids->resize(mark);
      ids->push_back(unk_id_);
      return;
    }
    ids->push_back(found);
    start += length;
  }
}

int32_t WordPieceModel::token_to_id(std::string_view token) const {
  std::u32string key;
  decode_utf8(token, &key);
  return word_start_.find(key);
}

std::string_view WordPieceModel::id_to_token(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= id_to_token_.size()) return {};
  return id_to_token_[id];
}

}  // namespace salvo
