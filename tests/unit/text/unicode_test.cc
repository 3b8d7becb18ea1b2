#include "text/unicode.h"

#include <gtest/gtest.h>
#include <utf8proc.h>

#include <algorithm>
#include <random>
#include <string>

namespace salvo {
namespace {

std::u32string decode(std::string_view s) {
  std::u32string out;
  decode_utf8(s, &out);
  return out;
}

TEST(Utf8Test, DecodesValidSequencesOfEveryLength) {
  EXPECT_EQ(decode("a\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80"),
            (std::u32string{U'a', 0xE9, 0x4E2D, 0x1F600}));
}

TEST(Utf8Test, EachInvalidByteBecomesOneReplacementCharacter) {
  EXPECT_EQ(decode("\xFF"), U"\uFFFD");
  EXPECT_EQ(decode("a\x80z"), U"a\uFFFDz");
  EXPECT_EQ(decode("\xC0\xAF"), U"\uFFFD\uFFFD");                      // overlong '/'
  EXPECT_EQ(decode("\xED\xA0\x80"), U"\uFFFD\uFFFD\uFFFD");            // a surrogate
  EXPECT_EQ(decode("\xF4\x90\x80\x80"), U"\uFFFD\uFFFD\uFFFD\uFFFD");  // above U+10FFFF
  EXPECT_EQ(decode("\xE4\xB8"), U"\uFFFD\uFFFD");                      // truncated at the end
  EXPECT_EQ(decode("\xE4z"), U"\uFFFDz");
}

TEST(Utf8Test, RandomBytesNeverCrashAndRoundTripValidText) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int round = 0; round < 2000; ++round) {
    std::string s(static_cast<size_t>(round % 40), '\0');
    for (char& c : s) c = static_cast<char>(byte(rng));
    std::u32string cps = decode(s);
    EXPECT_LE(cps.size(), s.size());
    for (char32_t cp : cps) {
      EXPECT_LE(cp, 0x10FFFFu);
      EXPECT_FALSE(cp >= 0xD800 && cp <= 0xDFFF);
    }
    // Whatever was decoded re-encodes to valid UTF-8 that decodes to the same code points.
    EXPECT_EQ(decode(to_utf8(cps)), cps);
  }
}

TEST(CharFlagsTest, AsciiFastPathAgreesWithUtf8proc) {
  for (char32_t cp = 0; cp < 128; ++cp)
    EXPECT_EQ(char_flags(cp), utf8proc_char_flags(cp)) << int(cp);
}

TEST(CharFlagsTest, CleanTextClasses) {
  EXPECT_TRUE(char_flags(0) & kCharDrop);
  EXPECT_TRUE(char_flags(0xFFFD) & kCharDrop);
  EXPECT_TRUE(char_flags(0x01) & kCharDrop);
  EXPECT_TRUE(char_flags(0x200B) & kCharDrop);  // zero width space is Cf
  EXPECT_TRUE(char_flags(0xE000) & kCharDrop);  // private use
  EXPECT_TRUE(char_flags(0x85) & kCharDrop);    // Cc wins over White_Space
  EXPECT_TRUE(char_flags('\t') & kCharCleanSpace);
  EXPECT_TRUE(char_flags('\n') & kCharCleanSpace);
  EXPECT_TRUE(char_flags(0x3000) & kCharCleanSpace);
  EXPECT_FALSE(char_flags('a') & (kCharDrop | kCharCleanSpace));
}

TEST(CharFlagsTest, PunctuationIncludesAsciiSymbols) {
  for (char32_t c : std::u32string(U"!$+<=>^`|~.,-"))
    EXPECT_TRUE(char_flags(c) & kCharPunct) << int(c);
  for (char32_t c : std::u32string(U"\u00BF\u00AB\u3002\uFF01"))
    EXPECT_TRUE(char_flags(c) & kCharPunct) << int(c);
  for (char32_t c : std::u32string(U"a0\u00A9\u20AC"))
    EXPECT_FALSE(char_flags(c) & kCharPunct) << int(c);
}

TEST(CharFlagsTest, ChineseRangesFollowTheLibrary) {
  EXPECT_TRUE(char_flags(0x4E2D) & kCharChinese);
  EXPECT_TRUE(char_flags(0x20000) & kCharChinese);
  EXPECT_TRUE(char_flags(0xF900) & kCharChinese);
  EXPECT_FALSE(char_flags(0x3042) & kCharChinese);  // hiragana
  EXPECT_FALSE(char_flags(0xAC00) & kCharChinese);  // hangul
  EXPECT_FALSE(char_flags(0x2B81F + 1) & kCharChinese);
}

TEST(CharFlagsTest, OverridesFollowTokenizersNotUtf8proc) {
  // U+1734 is Mc since Unicode 14; tokenizers' older tables still call it Mn.
  EXPECT_FALSE(utf8proc_char_flags(0x1734) & kCharNonspacingMark);
  EXPECT_TRUE(char_flags(0x1734) & kCharNonspacingMark);
  // U+0890 (Unicode 14, Cf) is unknown to tokenizers, so clean_text keeps it.
  EXPECT_TRUE(utf8proc_char_flags(0x890) & kCharDrop);
  EXPECT_FALSE(char_flags(0x890) & kCharDrop);
  // U+A7CB has a lowercase mapping in Unicode 16 (Rust) but not in utf8proc 2.8.
  std::u32string lower;
  append_lowercase(0xA7CB, &lower);
  EXPECT_EQ(lower, std::u32string(1, 0x0264));
}

TEST(CaseTest, LowercaseIsPerCharacterAsInRust) {
  std::u32string out;
  for (char32_t c : std::u32string(U"\u0130A\u03A3\u00C9")) append_lowercase(c, &out);
  EXPECT_EQ(out, std::u32string(U"i\u0307a\u03C3\u00E9"));  // no final-sigma rule
}

TEST(NfdTest, DecomposesCanonicallyOnly) {
  std::u32string out;
  append_nfd(0x00E9, &out);  // é
  append_nfd(0xFB01, &out);  // ﬁ: compatibility only, unchanged
  append_nfd(0xAC01, &out);  // 각: algorithmic Hangul
  append_nfd(0x1E69, &out);  // ṩ: two marks
  EXPECT_EQ(out, std::u32string(U"e\u0301\uFB01\u1100\u1161\u11A8s\u0323\u0307"));
}

// Reference: utf8proc's own NFD of the whole string (which reorders marks).
std::u32string reference_nfd(const std::u32string& text) {
  std::string utf8 = to_utf8(text);
  utf8proc_uint8_t* result = nullptr;
  utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(utf8.data()),
               static_cast<utf8proc_ssize_t>(utf8.size()), &result, UTF8PROC_DECOMPOSE);
  std::u32string out = decode(reinterpret_cast<const char*>(result));
  std::free(result);
  return out;
}

TEST(NfdTest, CanonicalReorderMatchesUtf8procOnRandomMarkSequences) {
  const std::u32string alphabet =
      U"ae\u00E9\u0301\u0323\u0307\u0334\u0345\u05B0\u0E38\U0001D165\u302A";
  std::mt19937 rng(3);
  std::uniform_int_distribution<size_t> pick(0, alphabet.size() - 1);
  for (int round = 0; round < 3000; ++round) {
    std::u32string text;
    for (int i = 0; i < round % 9; ++i) text.push_back(alphabet[pick(rng)]);
    std::u32string ours;
    for (char32_t c : text) append_nfd(c, &ours);
    canonical_reorder(&ours);
    EXPECT_EQ(ours, reference_nfd(text)) << to_utf8(text);
  }
}

}  // namespace
}  // namespace salvo
