#include "text/added_tokens.h"

#include <algorithm>

#include "text/unicode.h"

namespace salvo {

namespace {

// Rust regex's Unicode \w (Alphabetic, marks, decimal numbers, connector punctuation,
// Join_Control), which the library's single_word check uses.
bool is_word_char(char32_t cp) { return (char_flags(cp) & kCharWord) != 0; }

// Rust regex's Unicode \s.
bool is_space(char32_t cp) { return (char_flags(cp) & kCharWhitespace) != 0; }

}  // namespace

AddedTokenMatcher::AddedTokenMatcher(std::vector<Pattern> patterns) {
  for (Pattern& p : patterns) {
    if (p.text.empty()) continue;  // the library ignores empty tokens
    char32_t first = p.text[0];
    if (first < 128) {
      ascii_first_[first >> 6] |= uint64_t{1} << (first & 63);
    } else {
      first_chars_.push_back(first);
    }
    patterns_.push_back(std::move(p));
  }
  std::sort(first_chars_.begin(), first_chars_.end());
}

bool AddedTokenMatcher::may_start(char32_t cp) const {
  if (cp < 128) return (ascii_first_[cp >> 6] >> (cp & 63)) & 1;
  return std::binary_search(first_chars_.begin(), first_chars_.end(), cp);
}

void AddedTokenMatcher::split(std::u32string_view text, uint32_t begin, uint32_t end,
                              std::vector<TextPiece>* pieces) const {
  std::u32string_view range = text.substr(0, end);
  uint32_t emitted = begin;  // start of the text not yet given to a piece
  uint32_t pos = begin;
  while (pos < end) {
    if (!may_start(range[pos])) {
      ++pos;
      continue;
    }
    const Pattern* best = nullptr;
    for (const Pattern& p : patterns_) {
      if (p.text.size() <= end - pos && range.substr(pos, p.text.size()) == p.text &&
          (best == nullptr || p.text.size() > best->text.size())) {
        best = &p;
      }
    }
    if (best == nullptr) {
      ++pos;
      continue;
    }
    uint32_t start = pos;
    uint32_t stop = pos + static_cast<uint32_t>(best->text.size());
    pos = stop;
    const AddedToken& token = best->token;
    if (token.single_word) {
      bool space_before = start == begin || !is_word_char(range[start - 1]);
      bool space_after = stop == end || !is_word_char(range[stop]);
      if (!space_before || !space_after) continue;
    }
    if (token.lstrip) {
      uint32_t s = start;
      while (s > begin && is_space(range[s - 1])) --s;
      start = std::max(s, emitted);
    }
    if (token.rstrip) {
      while (stop < end && is_space(range[stop])) ++stop;
      pos = stop;
    }
    if (emitted < start) pieces->push_back({emitted, start, -1});
    pieces->push_back({start, stop, token.id});
    emitted = stop;
  }
  if (emitted < end || begin == end) pieces->push_back({emitted, end, -1});
}

}  // namespace salvo
