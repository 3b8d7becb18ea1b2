// Unicode character properties as Hugging Face `tokenizers` sees them, plus UTF-8 coding.
//
// The properties come from utf8proc, corrected by a generated list of code points where the Rust
// library disagrees (unicode_overrides.cc): its categories come from an older Unicode version and
// its case mapping from a newer one. tests/parity/tokenizer/unicode_sweep.js checks every code
// point.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace salvo {

// Bit flags of one code point; see char_flags().
enum CharFlag : uint16_t {
  kCharDrop = 1 << 0,            // removed by BertNormalizer clean_text (NUL, U+FFFD, Cc Cf Co Cs)
  kCharCleanSpace = 1 << 1,      // replaced by ' ' by clean_text (\t \n \r and White_Space)
  kCharWhitespace = 1 << 2,      // Rust char::is_whitespace: where the pre-tokenizer splits
  kCharPunct = 1 << 3,           // isolated by BertPreTokenizer (ASCII punctuation or P*)
  kCharChinese = 1 << 4,         // a CJK ideograph that handle_chinese_chars surrounds by spaces
  kCharNonspacingMark = 1 << 5,  // category Mn: removed by strip_accents after NFD
  kCharDecomposes = 1 << 6,      // NFD changes it
  kCharLowercaseChanges = 1 << 7,  // Rust char::to_lowercase changes it
  kCharCombining = 1 << 8,         // canonical combining class is not 0
  kCharWord = 1 << 9,              // Rust regex \w: Whitespace pre-tokenizer, single_word tokens
  kCharLetter = 1 << 10,           // Oniguruma \p{L}: the ByteLevel (GPT-2) split
  kCharNumber = 1 << 11,           // Oniguruma \p{N}: the ByteLevel (GPT-2) split
  kCharRegexSpace = 1 << 12,       // Oniguruma \s: the ByteLevel (GPT-2) split
  kCharNumeric = 1 << 13,          // Rust char::is_numeric: the Digits pre-tokenizer
  kCharMark = 1 << 14,             // General_Category Mark: removed by StripAccents
  kCharCompatDecomposes = 1 << 15,  // NFKD changes it
};

namespace unicode_detail {
extern const std::array<uint16_t, 128> kAsciiFlags;
uint16_t table_char_flags(char32_t cp);
}  // namespace unicode_detail

// The CharFlag bits of `cp`, matching Hugging Face tokenizers (0 for values above U+10FFFF).
inline uint16_t char_flags(char32_t cp) {
  return cp < 128 ? unicode_detail::kAsciiFlags[cp] : unicode_detail::table_char_flags(cp);
}

// The CharFlag bits of `cp` from utf8proc alone, without the tokenizers corrections (used to
// generate and check unicode_overrides.cc).
uint16_t utf8proc_char_flags(char32_t cp);

// The canonical combining class of `cp`.
int combining_class(char32_t cp);

// Appends the canonical decomposition (NFD) of `cp` to `out`, or `cp` itself if it has none.
void append_nfd(char32_t cp, std::u32string* out);

// Appends Rust's char::to_lowercase(cp) (which can be two code points, as for U+0130) to `out`.
void append_lowercase(char32_t cp, std::u32string* out);

// Appends the compatibility decomposition (NFKD) of `cp` to `out`, or `cp` itself if it has none.
void append_nfkd(char32_t cp, std::u32string* out);

// The four Unicode normalization forms.
enum class NormalForm { kNFC, kNFD, kNFKC, kNFKD };

// Writes `text` in normal form `form` to `out` (replacing its contents), as the tokenizers library
// computes it: decompositions and combining classes it does not know are left alone.
void normalize_unicode(NormalForm form, std::u32string_view text, std::u32string* out);

// The end of the extended grapheme cluster (UAX #29) that starts at text[start]; start < size.
size_t grapheme_end(std::u32string_view text, size_t start);

// Sorts each run of code points with a non-zero combining class by class, stably (the canonical
// ordering step of NFD).
void canonical_reorder(std::u32string* text);

// Decodes UTF-8 into code points, appending to `out`. Each byte that does not start a valid
// sequence (overlong, surrogate, truncated, > U+10FFFF) becomes one U+FFFD, so any input is safe.
void decode_utf8(std::string_view text, std::u32string* out);

// Appends `cp` encoded as UTF-8 to `out`.
void append_utf8(char32_t cp, std::string* out);

// `text` encoded as UTF-8.
std::string to_utf8(std::u32string_view text);

}  // namespace salvo
