#include "text/precompiled_normalizer.h"

#include <cstring>

#include "core/error.h"

namespace salvo {

namespace {

// Darts-clone unit fields.
bool has_leaf(uint32_t unit) { return ((unit >> 8) & 1) == 1; }
uint32_t value_of(uint32_t unit) { return unit & ((1u << 31) - 1); }
uint32_t label_of(uint32_t unit) { return unit & ((1u << 31) | 0xFF); }
uint32_t offset_of(uint32_t unit) { return (unit >> 10) << ((unit & (1u << 9)) >> 6); }

bool valid_utf8(std::string_view s) {
  std::u32string tmp;
  decode_utf8(s, &tmp);
  std::string back = to_utf8(tmp);
  return back == s;
}

void append_utf8_of(char32_t cp, std::string* out) { append_utf8(cp, out); }

}  // namespace

PrecompiledNormalizer::PrecompiledNormalizer(std::string_view charsmap) {
  if (charsmap.size() < 4) {
    throw Error(ErrorCode::kModel, "precompiled_charsmap is shorter than its 4-byte header");
  }
  auto u32_at = [&](size_t pos) {
    const auto* p = reinterpret_cast<const unsigned char*>(charsmap.data() + pos);
    return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
           (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
  };
  uint32_t trie_bytes = u32_at(0);
  size_t units = trie_bytes / 4;
  if (units > (charsmap.size() - 4) / 4) {
    throw Error(ErrorCode::kModel, "precompiled_charsmap: the trie size " +
                                       std::to_string(trie_bytes) + " exceeds the data");
  }
  units_.resize(units);
  for (size_t i = 0; i < units; ++i) units_[i] = u32_at(4 + 4 * i);
  strings_.assign(charsmap.substr(4 + 4 * units));
  if (!valid_utf8(strings_)) {
    throw Error(ErrorCode::kModel, "precompiled_charsmap: the replacement strings are not UTF-8");
  }
  for (char32_t c = 0; c < 128; ++c) {
    char key = static_cast<char>(c);
    auto r = transform(std::string_view(&key, 1));
    if (r) {
      std::u32string cps;
      decode_utf8(*r, &cps);
      ascii_[c] = std::move(cps);
    }
  }
}

std::optional<std::string_view> PrecompiledNormalizer::transform(std::string_view key) const {
  if (units_.empty()) return std::nullopt;
  size_t node = 0;
  uint32_t unit = units_[0];
  node ^= offset_of(unit);
  for (char ch : key) {
    auto c = static_cast<unsigned char>(ch);
    if (c == 0) break;
    node ^= c;
    if (node >= units_.size()) return std::nullopt;
    unit = units_[node];
    if (label_of(unit) != c) return std::nullopt;
    node ^= offset_of(unit);
    if (has_leaf(unit)) {
      if (node >= units_.size()) return std::nullopt;
      size_t index = value_of(units_[node]);
      if (index > strings_.size()) return std::nullopt;
      size_t end = strings_.find('\0', index);
      if (end == std::string::npos) end = strings_.size();
      return std::string_view(strings_).substr(index, end - index);
    }
  }
  return std::nullopt;
}

bool PrecompiledNormalizer::normalize(std::u32string_view text, std::u32string* out) const {
  out->clear();
  out->reserve(text.size());
  std::string key;
  bool first_kept = true;
  size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    char32_t c = text[i];
    size_t before = out->size();
    // Two ASCII characters never join in one grapheme cluster except CR LF.
    if (c < 0x80 && (i + 1 == n || (text[i + 1] < 0x80 && !(c == U'\r' && text[i + 1] == U'\n')))) {
      if (ascii_[c]) {
        out->append(*ascii_[c]);
      } else {
        out->push_back(c);
      }
      if (i == 0) first_kept = out->size() > before;
      ++i;
      continue;
    }
    size_t end = grapheme_end(text, i);
    key.clear();
    for (size_t k = i; k < end; ++k) append_utf8_of(text[k], &key);
    std::optional<std::string_view> whole;
    if (key.size() < 6) whole = transform(key);
    if (whole) {
      decode_utf8(*whole, out);
    } else {
      for (size_t k = i; k < end; ++k) {
        key.clear();
        append_utf8_of(text[k], &key);
        std::optional<std::string_view> one = transform(key);
        if (one) {
          decode_utf8(*one, out);
        } else {
          out->push_back(text[k]);
        }
      }
    }
    if (i == 0) first_kept = out->size() > before;
    i = end;
  }
  return first_kept;
}

}  // namespace salvo
