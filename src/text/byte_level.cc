#include "text/byte_level.h"

#include <array>

#include "text/unicode.h"

namespace salvo {

namespace {

struct ByteLevelTables {
  std::array<char32_t, 256> to_char{};
  ByteLevelTables() {
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      to_char[b] = printable ? static_cast<char32_t>(b) : next++;
    }
  }
};

const ByteLevelTables& tables() {
  static const ByteLevelTables t;
  return t;
}

bool is_letter(char32_t c) { return (char_flags(c) & kCharLetter) != 0; }
bool is_number(char32_t c) { return (char_flags(c) & kCharNumber) != 0; }
bool is_space(char32_t c) { return (char_flags(c) & kCharRegexSpace) != 0; }
bool is_other(char32_t c) {
  return !(char_flags(c) & (kCharLetter | kCharNumber | kCharRegexSpace));
}

// Cuts text[span] into GPT-2 matches, appending them to `out`.
void gpt2_split(std::u32string_view text, const TextSpan& span, std::vector<TextSpan>* out) {
  std::u32string_view piece = text.substr(span.begin, span.end - span.begin);
  size_t i = 0;
  while (i < piece.size()) {
    size_t end = gpt2_match_end(piece, i);
    out->push_back({span.begin + static_cast<uint32_t>(i), span.begin + static_cast<uint32_t>(end),
                    span.at_origin && i == 0});
    i = end;
  }
}

}  // namespace

const char kGpt2Pattern[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

char32_t byte_level_char(uint8_t byte) { return tables().to_char[byte]; }

int byte_of_byte_level_char(char32_t c) {
  if (c < 256) {
    bool printable = (c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF);
    return printable ? static_cast<int>(c) : -1;
  }
  for (int b = 0; b < 256; ++b) {
    if (tables().to_char[b] == c) return b;
  }
  return -1;
}

void append_byte_level(std::u32string_view text, std::u32string* out) {
  const auto& map = tables().to_char;
  for (char32_t cp : text) {
    if (cp < 0x80) {
      out->push_back(map[cp]);
    } else if (cp < 0x800) {
      out->push_back(map[0xC0 | (cp >> 6)]);
      out->push_back(map[0x80 | (cp & 0x3F)]);
    } else if (cp < 0x10000) {
      out->push_back(map[0xE0 | (cp >> 12)]);
      out->push_back(map[0x80 | ((cp >> 6) & 0x3F)]);
      out->push_back(map[0x80 | (cp & 0x3F)]);
    } else {
      out->push_back(map[0xF0 | ((cp >> 18) & 0x07)]);
      out->push_back(map[0x80 | ((cp >> 12) & 0x3F)]);
      out->push_back(map[0x80 | ((cp >> 6) & 0x3F)]);
      out->push_back(map[0x80 | (cp & 0x3F)]);
    }
  }
}

size_t gpt2_match_end(std::u32string_view t, size_t i) {
  size_t n = t.size();
  char32_t c = t[i];
  if (c == U'\'' && i + 1 < n) {
    char32_t c1 = t[i + 1];
    if (c1 == U's' || c1 == U't' || c1 == U'm' || c1 == U'd') return i + 2;
    if (i + 2 < n) {
      char32_t c2 = t[i + 2];
      if ((c1 == U'r' && c2 == U'e') || (c1 == U'v' && c2 == U'e') || (c1 == U'l' && c2 == U'l')) {
        return i + 3;
      }
    }
  }
  size_t j = (c == U' ' && i + 1 < n) ? i + 1 : i;
  if (j > i || c != U' ') {
    char32_t d = t[j];
    if (is_letter(d)) {
      size_t k = j + 1;
      while (k < n && is_letter(t[k])) ++k;
      return k;
    }
    if (is_number(d)) {
      size_t k = j + 1;
      while (k < n && is_number(t[k])) ++k;
      return k;
    }
    if (is_other(d)) {
      size_t k = j + 1;
      while (k < n && is_other(t[k])) ++k;
      return k;
    }
  }
  // c is whitespace: \s+(?!\S), else \s+.
  size_t k = i + 1;
  while (k < n && is_space(t[k])) ++k;
  if (k == n || k - i == 1) return k;
  return k - 1;
}

void ByteLevelPreTokenizer::pre_tokenize(PreTokenizedText* words,
                                         PreTokenizedText* scratch) const {
  thread_local std::vector<TextSpan> pieces;
  scratch->text.clear();
  scratch->spans.clear();
  std::u32string_view text(words->text);
  std::u32string with_space;
  for (const TextSpan& span : words->spans) {
    std::u32string_view piece = text.substr(span.begin, span.end - span.begin);
    if (add_prefix_space_ && piece[0] != U' ') {
      with_space.assign(1, U' ');
      with_space.append(piece);
      piece = with_space;
    }
    pieces.clear();
    TextSpan whole{0, static_cast<uint32_t>(piece.size()), span.at_origin};
    if (use_regex_) {
      gpt2_split(piece, whole, &pieces);
    } else {
      pieces.push_back(whole);
    }
    for (const TextSpan& p : pieces) {
      uint32_t begin = static_cast<uint32_t>(scratch->text.size());
      append_byte_level(piece.substr(p.begin, p.end - p.begin), &scratch->text);
      scratch->spans.push_back({begin, static_cast<uint32_t>(scratch->text.size()), p.at_origin});
    }
  }
  words->text.swap(scratch->text);
  words->spans.swap(scratch->spans);
}

void Gpt2SplitPreTokenizer::pre_tokenize(PreTokenizedText* words,
                                         PreTokenizedText* scratch) const {
  scratch->spans.clear();
  for (const TextSpan& span : words->spans) gpt2_split(words->text, span, &scratch->spans);
  words->spans.swap(scratch->spans);
}

}  // namespace salvo
