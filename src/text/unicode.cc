#include "text/unicode.h"

#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <utility>
#include <vector>

#include "text/unicode_overrides.h"

namespace salvo {

namespace {

constexpr char32_t kMaxCodePoint = 0x10FFFF;
constexpr char32_t kReplacement = 0xFFFD;
constexpr int kBlockBits = 8;
constexpr char32_t kBlockSize = 1u << kBlockBits;
constexpr size_t kBlockCount = (kMaxCodePoint + 1) >> kBlockBits;

// Rust's char::is_whitespace: the Unicode White_Space property.
bool is_rust_whitespace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

// The ranges tokenizers' BertNormalizer calls Chinese characters (its is_chinese_char).
bool is_chinese_char(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

bool is_ascii_punct(char32_t c) {
  return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
         (c >= 0x7B && c <= 0x7E);
}

bool is_hangul_syllable(char32_t c) { return c >= 0xAC00 && c <= 0xD7A3; }

// Two-stage lookup table of char_flags(): one index per 256-code-point block, shared blocks.
class CharFlagTable {
 public:
  CharFlagTable() {
    std::map<std::array<uint16_t, kBlockSize>, uint16_t> known;
    std::array<uint16_t, kBlockSize> block;
    auto overrides = char_flag_overrides();
    auto next = overrides.begin();
    index_.resize(kBlockCount);
    for (size_t b = 0; b < kBlockCount; ++b) {
      for (char32_t i = 0; i < kBlockSize; ++i) {
        char32_t cp = static_cast<char32_t>(b << kBlockBits) + i;
        uint16_t flags = utf8proc_char_flags(cp);
        while (next != overrides.end() && next->last < cp) ++next;
        if (next != overrides.end() && next->first <= cp) {
          flags = static_cast<uint16_t>((flags & ~next->clear) | next->set);
        }
        block[i] = flags;
      }
      auto [it, inserted] = known.emplace(block, static_cast<uint16_t>(known.size()));
      if (inserted) blocks_.insert(blocks_.end(), block.begin(), block.end());
      index_[b] = it->second;
    }
  }

  uint16_t get(char32_t cp) const {
    if (cp > kMaxCodePoint) return 0;
    return blocks_[(static_cast<size_t>(index_[cp >> kBlockBits]) << kBlockBits) |
                   (cp & (kBlockSize - 1))];
  }

 private:
  std::vector<uint16_t> index_;
  std::vector<uint16_t> blocks_;
};

const CharFlagTable& flag_table() {
  static const CharFlagTable table;
  return table;
}

}  // namespace

uint16_t utf8proc_char_flags(char32_t cp) {
  if (cp > kMaxCodePoint) return 0;
  const utf8proc_property_t* prop = utf8proc_get_property(static_cast<utf8proc_int32_t>(cp));
  int category = prop->category;
  uint16_t flags = 0;
  bool other = category == UTF8PROC_CATEGORY_CC || category == UTF8PROC_CATEGORY_CF ||
               category == UTF8PROC_CATEGORY_CO || category == UTF8PROC_CATEGORY_CS;
  bool kept_control = cp == '\t' || cp == '\n' || cp == '\r';
  if (cp == 0 || cp == kReplacement || (other && !kept_control)) {
    flags |= kCharDrop;
  } else if (is_rust_whitespace(cp)) {
    flags |= kCharCleanSpace;
  }
  if (is_rust_whitespace(cp)) flags |= kCharWhitespace;
  if (is_ascii_punct(cp) ||
      (category >= UTF8PROC_CATEGORY_PC && category <= UTF8PROC_CATEGORY_PO)) {
    flags |= kCharPunct;
  }
  if (is_chinese_char(cp)) flags |= kCharChinese;
  if (category == UTF8PROC_CATEGORY_MN) flags |= kCharNonspacingMark;
  if ((prop->decomp_seqindex != UINT16_MAX && prop->decomp_type == 0) || is_hangul_syllable(cp)) {
    flags |= kCharDecomposes;
  }
  if (cp == 0x130 ||
      static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp))) != cp) {
    flags |= kCharLowercaseChanges;
  }
  if (prop->combining_class != 0) flags |= kCharCombining;
  switch (category) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
      flags |= kCharWord | kCharLetter;
      break;
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
      flags |= kCharWord | kCharMark;
      break;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
      flags |= kCharWord | kCharNumber | kCharNumeric;
      break;
    case UTF8PROC_CATEGORY_NO:
      flags |= kCharNumber | kCharNumeric;
      break;
    case UTF8PROC_CATEGORY_PC:
      flags |= kCharWord;
      break;
    default:
      break;
  }
  if (cp == 0x200C || cp == 0x200D) flags |= kCharWord;  // Join_Control
  if (is_rust_whitespace(cp)) flags |= kCharRegexSpace;
  if (prop->decomp_seqindex != UINT16_MAX || is_hangul_syllable(cp)) flags |= kCharCompatDecomposes;
  return flags;
}

namespace unicode_detail {

// ASCII has no corrections; the unit tests check this table against utf8proc_char_flags().
constexpr uint16_t ascii_flags(char32_t c) {
  uint16_t flags = 0;
  bool whitespace = (c >= 0x09 && c <= 0x0D) || c == 0x20;
  bool kept_control = c == '\t' || c == '\n' || c == '\r';
  if ((c < 0x20 || c == 0x7F) && !kept_control) {
    flags |= kCharDrop;
  } else if (whitespace) {
    flags |= kCharCleanSpace;
  }
  if (whitespace) flags |= kCharWhitespace | kCharRegexSpace;
  bool letter = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
  bool digit = c >= '0' && c <= '9';
  if (letter) flags |= kCharWord | kCharLetter;
  if (digit) flags |= kCharWord | kCharNumber | kCharNumeric;
  if (c == '_') flags |= kCharWord;
  if ((c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
      (c >= 0x7B && c <= 0x7E)) {
    flags |= kCharPunct;
  }
  if (c >= 'A' && c <= 'Z') flags |= kCharLowercaseChanges;
  return flags;
}

template <size_t... I>
constexpr std::array<uint16_t, sizeof...(I)> ascii_table(std::index_sequence<I...>) {
  return {ascii_flags(static_cast<char32_t>(I))...};
}

constexpr std::array<uint16_t, 128> kAsciiFlags = ascii_table(std::make_index_sequence<128>());

uint16_t table_char_flags(char32_t cp) { return flag_table().get(cp); }

}  // namespace unicode_detail

int combining_class(char32_t cp) {
  if (cp > kMaxCodePoint || !(char_flags(cp) & kCharCombining)) return 0;
  return utf8proc_get_property(static_cast<utf8proc_int32_t>(cp))->combining_class;
}

void append_nfd(char32_t cp, std::u32string* out) {
  if (!(char_flags(cp) & kCharDecomposes)) {
    out->push_back(cp);
    return;
  }
  utf8proc_int32_t buffer[32];
  int boundclass = UTF8PROC_BOUNDCLASS_START;
  utf8proc_ssize_t n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(cp), buffer, 32,
                                               UTF8PROC_DECOMPOSE, &boundclass);
  if (n <= 0 || n > 32) {
    out->push_back(cp);
    return;
  }
  for (utf8proc_ssize_t i = 0; i < n; ++i) out->push_back(static_cast<char32_t>(buffer[i]));
}

void append_nfkd(char32_t cp, std::u32string* out) {
  if (!(char_flags(cp) & kCharCompatDecomposes)) {
    out->push_back(cp);
    return;
  }
  utf8proc_int32_t buffer[32];
  int boundclass = UTF8PROC_BOUNDCLASS_START;
  utf8proc_ssize_t n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(cp), buffer, 32,
                                               static_cast<utf8proc_option_t>(UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT),
                                               &boundclass);
  if (n <= 0 || n > 32) {
    out->push_back(cp);
    return;
  }
  for (utf8proc_ssize_t i = 0; i < n; ++i) out->push_back(static_cast<char32_t>(buffer[i]));
}

void normalize_unicode(NormalForm form, std::u32string_view text, std::u32string* out) {
  bool compat = form == NormalForm::kNFKC || form == NormalForm::kNFKD;
  bool compose = form == NormalForm::kNFC || form == NormalForm::kNFKC;
  // Below these limits every code point is already in the form (and composes with nothing).
  char32_t stable_below = compat ? 0xA0 : compose ? 0x300 : 0xC0;
  bool stable = true;
  for (char32_t cp : text) {
    if (cp >= stable_below) {
      stable = false;
      break;
    }
  }
  if (stable) {
    out->assign(text);
    return;
  }
  out->clear();
  out->reserve(text.size() + 8);
  bool any_combining = false;
  for (char32_t cp : text) {
    size_t start = out->size();
    if (compat) {
      append_nfkd(cp, out);
    } else {
      append_nfd(cp, out);
    }
    for (size_t i = start; i < out->size(); ++i) {
      any_combining |= (char_flags((*out)[i]) & kCharCombining) != 0;
    }
  }
  if (any_combining) canonical_reorder(out);
  if (!compose) return;
  // Composites whose decomposition the library does not know stay as they are in the input; only
  // ones that utf8proc forms below are undone (when the input has none of them itself).
  auto unknown_composite = [](char32_t cp) {
    return cp >= 0x300 && !(char_flags(cp) & kCharDecomposes) &&
           (utf8proc_char_flags(cp) & kCharDecomposes);
  };
  bool input_has_unknown = std::any_of(out->begin(), out->end(), unknown_composite);
  utf8proc_ssize_t n = utf8proc_normalize_utf32(reinterpret_cast<utf8proc_int32_t*>(out->data()),
                                                static_cast<utf8proc_ssize_t>(out->size()),
                                                static_cast<utf8proc_option_t>(UTF8PROC_COMPOSE | UTF8PROC_STABLE));
  if (n >= 0) out->resize(static_cast<size_t>(n));
  // A composite whose decomposition the tokenizers library does not know is never formed there.
  if (!input_has_unknown && std::any_of(out->begin(), out->end(), unknown_composite)) {
    std::u32string redone;
    for (char32_t cp : *out) {
      if (unknown_composite(cp)) {
        utf8proc_int32_t buffer[32];
        int boundclass = UTF8PROC_BOUNDCLASS_START;
        utf8proc_ssize_t m = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(cp), buffer, 32,
                                                     UTF8PROC_DECOMPOSE, &boundclass);
        for (utf8proc_ssize_t i = 0; i < m && m <= 32; ++i) redone.push_back(buffer[i]);
      } else {
        redone.push_back(cp);
      }
    }
    out->swap(redone);
  }
}

size_t grapheme_end(std::u32string_view text, size_t start) {
  utf8proc_int32_t state = 0;
  size_t i = start + 1;
  while (i < text.size() &&
         !utf8proc_grapheme_break_stateful(static_cast<utf8proc_int32_t>(text[i - 1]),
                                           static_cast<utf8proc_int32_t>(text[i]), &state)) {
    ++i;
  }
  return i;
}

void append_lowercase(char32_t cp, std::u32string* out) {
  if (!(char_flags(cp) & kCharLowercaseChanges)) {
    out->push_back(cp);
    return;
  }
  if (cp == 0x130) {  // The one unconditional multi-character lowercase mapping in SpecialCasing.
    out->push_back(U'i');
    out->push_back(0x307);
    return;
  }
  auto overrides = lowercase_overrides();
  auto it = std::lower_bound(overrides.begin(), overrides.end(), cp,
                             [](const LowercaseOverride& o, char32_t c) { return o.cp < c; });
  if (it != overrides.end() && it->cp == cp) {
    out->push_back(it->lower);
    return;
  }
  out->push_back(static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp))));
}

void canonical_reorder(std::u32string* text) {
  size_t n = text->size();
  size_t i = 0;
  while (i < n) {
    if (!(char_flags((*text)[i]) & kCharCombining)) {
      ++i;
      continue;
    }
    size_t end = i + 1;
    while (end < n && (char_flags((*text)[end]) & kCharCombining)) ++end;
    if (end - i > 1) {
      std::stable_sort(
          text->begin() + static_cast<std::ptrdiff_t>(i),
          text->begin() + static_cast<std::ptrdiff_t>(end),
          [](char32_t a, char32_t b) { return combining_class(a) < combining_class(b); });
    }
    i = end;
  }
}

void decode_utf8(std::string_view text, std::u32string* out) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const unsigned char* end = p + text.size();
  out->reserve(out->size() + text.size());
  while (p < end) {
    unsigned char b0 = *p;
    if (b0 < 0x80) {
      out->push_back(b0);
      ++p;
      continue;
    }
    size_t len;
    char32_t cp;
    char32_t min;
    if ((b0 & 0xE0) == 0xC0) {
      len = 2, cp = b0 & 0x1F, min = 0x80;
    } else if ((b0 & 0xF0) == 0xE0) {
      len = 3, cp = b0 & 0x0F, min = 0x800;
    } else if ((b0 & 0xF8) == 0xF0) {
      len = 4, cp = b0 & 0x07, min = 0x10000;
    } else {
      out->push_back(kReplacement);
      ++p;
      continue;
    }
    bool valid = static_cast<size_t>(end - p) >= len;
    for (size_t k = 1; valid && k < len; ++k) {
      if ((p[k] & 0xC0) != 0x80) {
        valid = false;
      } else {
        cp = (cp << 6) | (p[k] & 0x3F);
      }
    }
    if (!valid || cp < min || cp > kMaxCodePoint || (cp >= 0xD800 && cp <= 0xDFFF)) {
      out->push_back(kReplacement);
      ++p;
      continue;
    }
    out->push_back(cp);
    p += len;
  }
}

void append_utf8(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string to_utf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t cp : text) append_utf8(cp, &out);
  return out;
}

}  // namespace salvo
