#include "text/word_cache.h"

namespace salvo {

namespace {

constexpr size_t kSlots = 1u << 15;  // power of two
constexpr size_t kMaxEntries = kSlots / 2;

}  // namespace

void WordCache::claim(uint64_t owner) {
  if (owner == owner_) return;
  owner_ = owner;
  clear();
}

void WordCache::clear() {
  slots_.assign(kSlots, Entry{});
  count_ = 0;
  keys_.clear();
  values_.clear();
}

uint64_t WordCache::hash_of(std::u32string_view word) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ word.size();
  for (char32_t c : word) {
    h ^= c;
    h *= 0x100000001B3ull;
    h ^= h >> 29;
  }
  return h | 1;
}

bool WordCache::lookup(std::u32string_view word, std::vector<int32_t>* ids) const {
  if (slots_.empty() || word.size() > kMaxWordLength) return false;
  uint64_t h = hash_of(word);
  size_t mask = slots_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const Entry& e = slots_[i];
    if (!e.used) return false;
    if (e.hash == h && e.key_length == word.size() &&
        std::u32string_view(keys_).substr(e.key, e.key_length) == word) {
      ids->insert(ids->end(), values_.begin() + e.value,
                  values_.begin() + e.value + e.value_length);
      return true;
    }
  }
}

void WordCache::store(std::u32string_view word, const std::vector<int32_t>& ids, size_t first) {
  if (word.size() > kMaxWordLength) return;
  if (slots_.empty() || count_ >= kMaxEntries) clear();
  uint64_t h = hash_of(word);
  size_t mask = slots_.size() - 1;
  size_t i = h & mask;
  while (slots_[i].used) {
    if (slots_[i].hash == h && slots_[i].key_length == word.size() &&
        std::u32string_view(keys_).substr(slots_[i].key, slots_[i].key_length) == word) {
      return;
    }
    i = (i + 1) & mask;
  }
  Entry& e = slots_[i];
  e.used = true;
  e.hash = h;
  e.key = static_cast<uint32_t>(keys_.size());
  e.key_length = static_cast<uint32_t>(word.size());
  e.value = static_cast<uint32_t>(values_.size());
  e.value_length = static_cast<uint32_t>(ids.size() - first);
  keys_.append(word);
  values_.insert(values_.end(), ids.begin() + static_cast<std::ptrdiff_t>(first), ids.end());
  ++count_;
}

}  // namespace salvo
