#include "text/models/bpe.h"

#include <algorithm>
#include <atomic>
#include <cstdio>

#include "core/error.h"
#include "text/unicode.h"
#include "text/word_cache.h"

namespace salvo {

namespace {

// Characters below this (byte-level BPE's, and most scripts' letters and U+2581) are looked up in
// arrays; the others in tries.
constexpr char32_t kSmallChars = 0x3000;

// One symbol of a word being merged (tokenizers' Symbol): len 0 marks a merged-away symbol.
struct Symbol {
  int32_t id;
  int32_t prev;
  int32_t next;
  uint32_t len;
};

// A possible merge at a position; the queue pops the lowest rank, then the leftmost position.
struct Candidate {
  uint32_t rank;
  int32_t pos;
  int32_t new_id;
};

struct LaterCandidate {
  bool operator()(const Candidate& a, const Candidate& b) const {
    if (a.rank != b.rank) return a.rank > b.rank;
    return a.pos > b.pos;
  }
};

std::string byte_token(uint8_t b) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "<0x%02X>", b);
  return buf;
}

}  // namespace

void IdPairMap::insert(int32_t a, int32_t b, uint64_t value) {
  if ((count_ + 1) * 2 > slots_.size()) {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(old.empty() ? 1024 : old.size() * 2, Slot{});
    size_t mask = slots_.size() - 1;
    for (const Slot& s : old) {
      if (s.key == kEmpty) continue;
      size_t i = hash(s.key) & mask;
      while (slots_[i].key != kEmpty) i = (i + 1) & mask;
      slots_[i] = s;
    }
  }
  uint64_t key = pack(a, b);
  size_t mask = slots_.size() - 1;
  size_t i = hash(key) & mask;
  while (slots_[i].key != kEmpty && slots_[i].key != key) i = (i + 1) & mask;
  if (slots_[i].key == kEmpty) ++count_;
  slots_[i] = Slot{key, value};
}

BpeModel::BpeModel(const std::vector<std::pair<std::string, int32_t>>& vocab,
                   const std::vector<std::pair<std::string, std::string>>& merges,
                   BpeOptions options)
    : options_(std::move(options)) {
  check_vocabulary_ids(vocab, "BPE vocabulary");
  decode_utf8(options_.continuing_subword_prefix, &prefix_);
  decode_utf8(options_.end_of_word_suffix, &suffix_);
  small_chars_[0].assign(kSmallChars, -1);
  if (!prefix_.empty()) small_chars_[1].assign(kSmallChars, -1);
  if (!suffix_.empty()) small_chars_[2].assign(kSmallChars, -1);
  if (!prefix_.empty() && !suffix_.empty()) small_chars_[3].assign(kSmallChars, -1);
  std::u32string key;
  for (const auto& [token, id] : vocab) {
    key.clear();
    decode_utf8(token, &key);
    vocab_.insert(key, id);
    if (static_cast<size_t>(id) >= id_to_token_.size()) id_to_token_.resize(id + 1);
    id_to_token_[id] = token;
    // Which one-character forms is this token?
    std::u32string_view k(key);
    for (int variant = 0; variant < 4; ++variant) {
      if (small_chars_[variant].empty()) continue;
      std::u32string_view rest = k;
      if (variant & 1) {
        if (prefix_.empty() || rest.substr(0, prefix_.size()) != prefix_) continue;
        rest.remove_prefix(prefix_.size());
      }
      if (variant & 2) {
        if (suffix_.empty() || rest.size() < suffix_.size() ||
            rest.substr(rest.size() - suffix_.size()) != suffix_) {
          continue;
        }
        rest.remove_suffix(suffix_.size());
      }
      if (rest.size() != 1) continue;
      if (rest[0] < kSmallChars) {
        small_chars_[variant][rest[0]] = id;
      } else {
        other_chars_[variant].insert(rest, id);
      }
    }
  }
  // A repeated token keeps its last id (as in a JSON object); reassign the one-character tables
  // from the final vocabulary so that they agree with vocab_.
  for (int variant = 0; variant < 4; ++variant) {
    if (small_chars_[variant].empty()) continue;
    for (char32_t c = 0; c < kSmallChars; ++c) {
      if (small_chars_[variant][c] < 0) continue;
      std::u32string form;
      if (variant & 1) form += prefix_;
      form.push_back(c);
      if (variant & 2) form += suffix_;
      small_chars_[variant][c] = vocab_.find(form);
    }
  }
  for (int b = 0; b < 256; ++b) {
    std::u32string form;
    decode_utf8(byte_token(static_cast<uint8_t>(b)), &form);
    byte_ids_[b] = vocab_.find(form);
  }
  if (options_.unk_token) {
    std::u32string unk;
    decode_utf8(*options_.unk_token, &unk);
    unk_id_ = vocab_.find(unk);  // may be -1: the library fails only when it is needed
  }
  size_t prefix_bytes = options_.continuing_subword_prefix.size();
  std::u32string a32;
  std::u32string merged32;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [a, b] = merges[rank];
    std::string where = "BPE merges[" + std::to_string(rank) + "] ('" + a + "', '" + b + "')";
    int32_t a_id = token_to_id(a);
    int32_t b_id = token_to_id(b);
    if (a_id < 0) throw Error(ErrorCode::kModel, where + ": '" + a + "' is not in the vocabulary");
    if (b_id < 0) throw Error(ErrorCode::kModel, where + ": '" + b + "' is not in the vocabulary");
    if (b.size() < prefix_bytes) {
      throw Error(ErrorCode::kModel, where + ": '" + b + "' is shorter than the subword prefix");
    }
    std::string merged = a + b.substr(prefix_bytes);
    int32_t new_id = token_to_id(merged);
    if (new_id < 0) {
      throw Error(ErrorCode::kModel, where + ": the result '" + merged + "' is not in the vocabulary");
    }
    // A repeated pair keeps its last rank, as the library's map does.
    merges_.insert(a_id, b_id, (static_cast<uint64_t>(rank) << 32) | static_cast<uint32_t>(new_id));
  }
  // SentencePiece-style models see a whole text as one word. When no token has another character
  // right before U+2581, no merge can join the symbols on both sides of a point where U+2581
  // follows another character, so the word can be merged piece by piece there (and the pieces,
  // which repeat, remembered). Prefixes and suffixes depend on the word's ends, and an unknown
  // U+2581 would fuse with its neighbours: neither may be there.
  constexpr char32_t kMetaspace = 0x2581;
  bool independent = prefix_.empty() && suffix_.empty() && char_id(kMetaspace, 0) >= 0;
  for (size_t id = 0; independent && id < id_to_token_.size(); ++id) {
    std::u32string cps;
    decode_utf8(id_to_token_[id], &cps);
    for (size_t i = 1; i < cps.size(); ++i) {
      if (cps[i] == kMetaspace && cps[i - 1] != kMetaspace) {
        independent = false;
        break;
      }
    }
  }
  if (independent) independent_start_ = kMetaspace;
  static std::atomic<uint64_t> serials{0};
  serial_ = ++serials;
}

int32_t BpeModel::char_id(char32_t c, int variant) const {
  if (c < kSmallChars) return small_chars_[variant][c];
  char32_t one[1] = {c};
  return other_chars_[variant].find(std::u32string_view(one, 1));
}

void BpeModel::tokenize(std::u32string_view word, std::vector<int32_t>* ids) const {
  if (word.empty()) return;
  if (options_.ignore_merges) {
    int32_t id = vocab_.find(word);
    if (id >= 0) {
      ids->push_back(id);
      return;
    }
  }
  if (independent_start_ == 0 || word.size() <= WordCache::kMaxWordLength) {
    merge(word, ids);
    return;
  }
  thread_local WordCache cache;
  cache.claim(serial_);
  auto piece = [&](std::u32string_view part) {
    if (cache.lookup(part, ids)) return;
    size_t first = ids->size();
    merge(part, ids);
    cache.store(part, *ids, first);
  };
  size_t start = 0;
  for (size_t i = 1; i < word.size(); ++i) {
    if (word[i] == independent_start_ && word[i - 1] != independent_start_) {
      piece(word.substr(start, i - start));
      start = i;
    }
  }
  piece(word.substr(start));
}

void BpeModel::merge(std::u32string_view word, std::vector<int32_t>* ids) const {
  thread_local std::vector<Symbol> symbols;
  thread_local std::vector<Candidate> queue;
  thread_local std::string bytes;
  symbols.clear();
  auto add = [](int32_t id, uint32_t len) {
    int32_t n = static_cast<int32_t>(symbols.size());
    if (n > 0) symbols.back().next = n;
    symbols.push_back({id, n - 1, -1, len});
  };
  bool has_prefix = !prefix_.empty();
  bool has_suffix = !suffix_.empty();
  int32_t unk_pending = -1;  // the id of a pending unknown symbol
  uint32_t unk_len = 0;
  auto require_unk = [this]() {
    if (unk_id_ < 0) {
      throw Error(ErrorCode::kInvalidArgument,
                  "BPE: the unknown token '" + *options_.unk_token + "' is not in the vocabulary");
    }
    return unk_id_;
  };
  size_t n = word.size();
  for (size_t i = 0; i < n; ++i) {
    int variant = ((i > 0 && has_prefix) ? 1 : 0) | ((i + 1 == n && has_suffix) ? 2 : 0);
    int32_t id = char_id(word[i], variant);
    if (id >= 0) {
      if (unk_pending >= 0) {
        add(unk_pending, unk_len);
        unk_pending = -1;
      }
      add(id, 1);
      continue;
    }
    if (options_.byte_fallback) {
      bytes.clear();
      if (variant & 1) bytes += options_.continuing_subword_prefix;
      append_utf8(word[i], &bytes);
      if (variant & 2) bytes += options_.end_of_word_suffix;
      bool all = true;
      for (char b : bytes) all &= byte_ids_[static_cast<uint8_t>(b)] >= 0;
      if (all) {
        for (char b : bytes) add(byte_ids_[static_cast<uint8_t>(b)], 1);
        continue;
      }
    }
    if (!options_.unk_token) continue;  // without an unknown token the character is dropped
    if (unk_pending >= 0 && options_.fuse_unk) {
      unk_len += 1;
    } else {
      if (unk_pending >= 0) add(unk_pending, unk_len);
      unk_pending = require_unk();
      unk_len = 1;
    }
  }
  if (unk_pending >= 0) add(unk_pending, unk_len);

  queue.clear();
  for (size_t i = 0; i + 1 < symbols.size(); ++i) {
    if (auto m = merges_.find(symbols[i].id, symbols[i + 1].id)) {
      queue.push_back({static_cast<uint32_t>(*m >> 32), static_cast<int32_t>(i),
                       static_cast<int32_t>(*m & 0xFFFFFFFF)});
    }
  }
  std::make_heap(queue.begin(), queue.end(), LaterCandidate{});
  while (!queue.empty()) {
    std::pop_heap(queue.begin(), queue.end(), LaterCandidate{});
    Candidate top = queue.back();
    queue.pop_back();
    Symbol& left = symbols[top.pos];
    if (left.len == 0 || left.next == -1) continue;
    int32_t next_pos = left.next;
    Symbol right = symbols[next_pos];
    auto current = merges_.find(left.id, right.id);
    if (!current || static_cast<int32_t>(*current & 0xFFFFFFFF) != top.new_id) continue;
    left.id = top.new_id;
    left.len += right.len;
    left.next = right.next;
    symbols[next_pos].len = 0;
    if (right.next >= 0 && static_cast<size_t>(right.next) < symbols.size()) {
      symbols[right.next].prev = top.pos;
    }
    const Symbol& cur = symbols[top.pos];
    if (cur.prev >= 0) {
      if (auto m = merges_.find(symbols[cur.prev].id, cur.id)) {
        queue.push_back({static_cast<uint32_t>(*m >> 32), cur.prev,
                         static_cast<int32_t>(*m & 0xFFFFFFFF)});
        std::push_heap(queue.begin(), queue.end(), LaterCandidate{});
      }
    }
    if (cur.next >= 0 && static_cast<size_t>(cur.next) < symbols.size()) {
      if (auto m = merges_.find(cur.id, symbols[cur.next].id)) {
        queue.push_back({static_cast<uint32_t>(*m >> 32), top.pos,
                         static_cast<int32_t>(*m & 0xFFFFFFFF)});
        std::push_heap(queue.begin(), queue.end(), LaterCandidate{});
      }
    }
  }
  for (const Symbol& s : symbols) {
    if (s.len != 0) ids->push_back(s.id);
  }
}

int32_t BpeModel::token_to_id(std::string_view token) const {
  std::u32string key;
  decode_utf8(token, &key);
  return vocab_.find(key);
}

std::string_view BpeModel::id_to_token(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= id_to_token_.size()) return {};
  return id_to_token_[id];
}

}  // namespace salvo
